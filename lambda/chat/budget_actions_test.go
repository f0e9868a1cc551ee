package chat_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// TestEveryDefinedActionDrawsItsCost (issue 22 #5: every action draws from
// the person's budget by what it costs): after each action of the
// definition, the pings that still fit in the budget are its Cost fewer
// than without it. budget_test.go floods single actions; this holds the
// rest (remove, sendPrivate) and any action added later. The actions that
// exist only with sign-in are left out: reauth (reauth_test.go),
// signOutEverywhere and deleteAccount end the connection they would be
// measured on. The moderation acts (an "account" field) are measured with
// sign-in, Alice a moderator acting on Bob.
func TestEveryDefinedActionDrawsItsCost(t *testing.T) {
	t.Parallel()
	signedInOnly := map[string]bool{contract.ActionReauth: true, contract.ActionSignOutEverywhere: true, contract.ActionDeleteAccount: true}
	// pingsLeft runs the same steps with and without action a (nil: without),
	// then counts the pings accepted before the first rate_limited.
	pingsLeft := func(t *testing.T, a *contract.Action, signed bool) int {
		t.Helper()
		var h *chattest.Harness
		var alice string
		if signed {
			h = chattest.New(t, chattest.SignedIn)
			alice = h.JoinModerator("alice", "")
			h.JoinAs("bob", "")
		} else {
			h = chattest.New(t)
			alice = h.Join("Alice", "")
			h.Join("Bob", "")
		}
		h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
		var messageID string
		for _, raw := range h.GW.Take(alice) {
			var f struct{ Type, ID string }
			if json.Unmarshal(raw, &f) == nil && f.Type == contract.FramePublic {
				messageID = f.ID
			}
		}
		if a != nil {
			resp := h.Send(alice, frameOf(t, *a, "", nil, messageID))
			for _, raw := range append(h.GW.Take(alice), json.RawMessage(resp)) {
				var f reply
				if len(raw) > 0 && json.Unmarshal(raw, &f) == nil && f.Type == contract.FrameError {
					t.Fatalf("%s answered %s %q", a.Name, f.Code, f.Message)
				}
			}
		}
		for n := 0; n < 1000; n++ {
			var f reply
			if err := json.Unmarshal([]byte(h.Send(alice, `{"action":"ping"}`)), &f); err != nil {
				t.Fatal(err)
			}
			h.GW.Take(alice)
			if f.Code == contract.CodeRateLimited {
				return n
			}
			if f.Type != contract.FramePong {
				t.Fatalf("ping %d answered %+v", n, f)
			}
		}
		t.Fatal("1,000 pings and none refused: no budget")
		return 0
	}
	without := map[bool]int{false: pingsLeft(t, nil, false), true: pingsLeft(t, nil, true)}
	for _, a := range contract.Actions() {
		if signedInOnly[a.Name] {
			continue
		}
		signed := slices.ContainsFunc(a.Fields, func(f contract.Field) bool { return f.Name == "account" })
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			// frameOf's lists hold one item (one recipient): the price of one.
			if got, want := without[signed]-pingsLeft(t, &a, signed), a.Price(1); got != want {
				t.Errorf("%s drew %d units of the budget; its price is %d", a.Name, got, want)
			}
		})
	}
}
