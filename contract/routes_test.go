package contract

import (
	"encoding/json"
	"testing"
)

func TestRouteTableHasTheSixRoutesAndOnlyDefaultIsTwoWay(t *testing.T) {
	want := []string{RouteConnect, RouteDisconnect, RouteDefault, RouteSetName, RouteSendPublic, RouteSendPrivate}
	got := Routes()
	if len(got) != len(want) {
		t.Fatalf("%d routes, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.Key != want[i] {
			t.Errorf("route %d is %q, want %q", i, r.Key, want[i])
		}
		if r.TwoWay != (r.Key == RouteDefault) {
			t.Errorf("route %s: TwoWay=%v", r.Key, r.TwoWay)
		}
	}
	got[0].Key = "changed"
	if Routes()[0].Key != RouteConnect {
		t.Fatal("Routes returned the table itself; callers could change it")
	}
}

func TestSelectRouteLikeAPIGateway(t *testing.T) {
	for _, tc := range []struct{ body, route string }{
		{`{"action":"setName","name":"x"}`, RouteSetName},
		{`{"action":"sendPublic"}`, RouteSendPublic},
		{`{"action":"sendPrivate"}`, RouteSendPrivate},
		{`{"action":"ping"}`, RouteDefault},
		{`{"action":"SENDPUBLIC"}`, RouteDefault},
		{`{"Action":"sendPublic"}`, RouteDefault}, // the key's case matters too
		{`{"ACTION":"setName"}`, RouteDefault},
		{`{"action":"ping","Action":"sendPrivate"}`, RouteDefault},
		{`{"action":"$default"}`, RouteDefault},
		{`{"action":"$connect"}`, RouteDefault},
		{`{"action":"$disconnect"}`, RouteDefault},
		{`{"action":1}`, RouteDefault},
		{`{"message":"hi"}`, RouteDefault},
		{`not json`, RouteDefault},
		{`["sendPublic"]`, RouteDefault},
		{``, RouteDefault},
	} {
		if got := SelectRoute([]byte(tc.body)); got != tc.route {
			t.Errorf("SelectRoute(%s) = %s, want %s", tc.body, got, tc.route)
		}
	}
}

func TestLookupRoute(t *testing.T) {
	if r, ok := LookupRoute(RouteDefault); !ok || !r.TwoWay {
		t.Fatalf("LookupRoute($default) = %+v, %v", r, ok)
	}
	if _, ok := LookupRoute("ping"); ok {
		t.Fatal("ping is an action on $default, not a route")
	}
}

// FuzzSelectRoute: any frame selects one of the API's routes, never
// $connect or $disconnect, and a custom route only when the frame's action
// names it exactly.
func FuzzSelectRoute(f *testing.F) {
	for _, s := range []string{`{"action":"sendPublic"}`, `{"action":"x"}`, `{`, `{"action":"setName","action":"ping"}`, `{"Action":"sendPublic"}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		route := SelectRoute(body)
		r, ok := LookupRoute(route)
		if !ok || r.Key == RouteConnect || r.Key == RouteDisconnect {
			t.Fatalf("SelectRoute(%q) = %q", body, route)
		}
		if route != RouteDefault {
			var frame map[string]any
			if err := json.Unmarshal(body, &frame); err != nil || frame["action"] != route {
				t.Fatalf("SelectRoute(%q) = %q, but the frame's \"action\" is %v (%v)", body, route, frame["action"], err)
			}
		}
	})
}
