package contract

import (
	"slices"
	"testing"
)

// An action has a custom route exactly when the route table has a route of
// its name; every other action goes through $default. Names and codes are unique.
func TestEveryCustomRouteIsAnActionAndDefaultActionsHaveNoRoute(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range Actions() {
		if seen[a.Name] {
			t.Errorf("action %q twice", a.Name)
		}
		seen[a.Name] = true
		r, isRoute := LookupRoute(a.Name)
		switch {
		case a.CustomRoute() && (!isRoute || a.Route != a.Name || r.Key != a.Name):
			t.Errorf("action %q names route %q, which is not its own route of the table", a.Name, a.Route)
		case !a.CustomRoute() && isRoute:
			t.Errorf("action %q goes through $default but the API has a route of its name", a.Name)
		}
		if a.Doc == "" {
			t.Errorf("action %q has no Doc", a.Name)
		}
	}
	for _, r := range Routes() {
		if r.Key[0] != '$' && !seen[r.Key] {
			t.Errorf("route %q is no action", r.Key)
		}
	}
	if _, ok := LookupAction("react"); ok {
		t.Fatal("LookupAction found an action the table lacks")
	}
	if a, ok := LookupAction(ActionPing); !ok || a.CustomRoute() {
		t.Fatalf("LookupAction(ping) = %+v, %v", a, ok)
	}
}

func TestErrorCodesAreUniqueAndExplained(t *testing.T) {
	var codes []string
	for _, e := range ErrorCodes() {
		if slices.Contains(codes, e.Code) {
			t.Errorf("code %q twice", e.Code)
		}
		if e.When == "" {
			t.Errorf("code %q has no When", e.Code)
		}
		codes = append(codes, e.Code)
		if !IsErrorCode(e.Code) {
			t.Errorf("IsErrorCode(%q) = false", e.Code)
		}
	}
	if IsErrorCode("typing") {
		t.Fatal("IsErrorCode(typing) = true")
	}
}

// A price that grows with a list counts one of the action's list fields,
// and never falls below the action's Cost.
func TestAPriceByItemsCountsAListFieldOfItsAction(t *testing.T) {
	for _, a := range Actions() {
		if a.Per.Every == 0 {
			if a.Per.Field != "" || a.Price(RecipientsMax) != a.Cost {
				t.Errorf("%s: Per %+v without Every, price %d", a.Name, a.Per, a.Price(RecipientsMax))
			}
			continue
		}
		i := slices.IndexFunc(a.Fields, func(f Field) bool { return f.Name == a.Per.Field })
		if i < 0 || !a.Fields[i].Type.List {
			t.Errorf("%s is priced per item of %q, which is not a list field of it", a.Name, a.Per.Field)
		}
		if a.Price(0) != a.Cost || a.Price(1) < a.Cost {
			t.Errorf("%s: Price(0) %d, Price(1) %d, Cost %d", a.Name, a.Price(0), a.Price(1), a.Cost)
		}
	}
	p, _ := LookupAction(ActionSendPrivate)
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 19: 10, 20: 11} {
		if got := p.Price(n); got != want {
			t.Errorf("a private message to %d costs %d units, want %d", n, got, want)
		}
	}
}
