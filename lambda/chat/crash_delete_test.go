package chat_test

// The crash points of an account's deletion: an operator deletes dave,
// and the function is killed right after each of its DynamoDB requests.
// Whatever the point, dave's account is either still there with its names
// or gone with no trace of them (never a name held by an account that no
// longer is), and the deletion run again finishes it: the name is then
// free for another account, and bob's room never lists dave twice.

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

func TestADeletionKilledAfterEachRequestLeavesTheAccountOrNoTraceOfItsNames(t *testing.T) {
	t.Parallel()
	t.Run("by an operator", func(t *testing.T) { t.Parallel(); killedDeletions(t, false) })
	t.Run("from the page", func(t *testing.T) { t.Parallel(); killedDeletions(t, true) })
}

// killedDeletions deletes a new dave<k> for each k, killed after its k-th
// request: by the operator's event, or (page) by dave's own deleteAccount
// on one of his connections.
func killedDeletions(t *testing.T, page bool) {
	q := &settleQueue{}
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited, func(o *chat.Options) { o.UserPoolID = testPool; o.Settle = q })
	bob, _ := h.ConnectAs("sub-bob", "bob", map[string]string{"room": "lobby"})
	bobs := chat.Reader(chat.Connection{AccountID: "sub-bob"})
	ctx := context.Background()
	for k := 0; ; k++ {
		user := fmt.Sprintf("dave%d", k)
		sub := "sub-" + user
		if e := signUp(t, h, "PreSignUp_SignUp", testPool, user); e != "" {
			t.Fatal(e)
		}
		for _, room := range []string{"lobby", "kitchen"} {
			h.ConnectAs(sub, user, map[string]string{"room": room})
		}
		d, _ := h.ConnectAs(sub, user, map[string]string{"room": "lobby"})
		h.Send(d, `{"action":"sendPublic","message":"hi"}`)
		h.Send(bob, `{"action":"sendPrivate","to":["`+user+`"],"message":"for `+user+`"}`)
		h.Send(d, `{"action":"sendPrivate","to":["bob"],"message":"from `+user+`"}`)
		h.Send(d, `{"action":"setName","name":"`+user+`x"}`) // a second name: the username stays reserved
		h.Settle()
		req := contract.OperatorRequest{Op: contract.OpDeleteAccount, Username: user}
		crash := h.Cut(k, func(ctx context.Context) {
			if page {
				h.SendCtx(ctx, d, `{"action":"deleteAccount"}`)
			} else {
				operateCtx(t, ctx, h, req)
			}
		})
		killed, after := crash.Killed()

		a, err := h.Store.Account(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		holders := map[string]string{}
		for _, n := range []string{user, user + "x"} {
			if holders[n], err = h.Store.NameOwner(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		reserved, err := h.Store.ReservationOwner(ctx, user, user)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case a.Deleted.IsZero() && (holders[user+"x"] != sub || reserved != sub):
			t.Errorf("killed after %d (%s): the account is there but its names are not all its: %q, reservation %q", k, after, holders, reserved)
		case !a.Deleted.IsZero() && (holders[user] != "" || holders[user+"x"] != "" || reserved != ""):
			t.Errorf("killed after %d (%s): the account is deleted but its names are held: %q, reservation %q", k, after, holders, reserved)
		}

		// Run again as an operator would, knowing the account (the first
		// answer names it; after a kill, CloudTrail or Cognito does).
		req.Account = sub
		if ans := operate(t, h, req); ans.Result != contract.ResultDone && ans.Result != contract.ResultAlready {
			t.Fatalf("killed after %d (%s), run again: %+v", k, after, ans)
		}
		other, _ := h.ConnectAs("sub-other-"+user, "other"+user, map[string]string{"room": "lobby", "name": user + "x"})
		if s := state(t, h, other); s.You != user+"x" {
			t.Errorf("killed after %d (%s): after the deletion ran again another account asking for %sx is %q", k, after, user, s.You)
		}
		if a, _ := h.Store.Account(ctx, sub); a.Deleted.IsZero() || len(a.Rooms) != 0 || len(a.Devices) != 0 {
			t.Errorf("killed after %d (%s): after the deletion ran again the account item is %+v", k, after, a)
		}
		// The second forget comes (the killed run's, if it was sent, and
		// the run's again): it finds nothing more to do.
		for _, b := range q.take() {
			deliverSettle(t, h, b)
		}
		if a, _ := h.Store.Account(ctx, sub); a.Deleted.IsZero() || len(a.Rooms) != 0 {
			t.Errorf("killed after %d (%s): after the second forget the account item is %+v", k, after, a)
		}
		recs, _, err := h.Store.PrivateHistory(ctx, "lobby", bobs, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Message == "for "+user && (slices.Contains(r.ToAccounts, sub) || !slices.Equal(r.To, []string{user})) {
				t.Errorf("killed after %d (%s): bob's message to %s is to %q, accounts %q", k, after, user, r.To, r.ToAccounts)
			}
		}
		for _, text := range []string{"for " + user, "from " + user} {
			if !slices.ContainsFunc(recs, func(r chat.Record) bool { return r.Message == text }) {
				t.Errorf("killed after %d (%s): %q is not in bob's private history", k, after, text)
			}
		}
		for _, r := range recs {
			if r.Message == "from "+user && (r.FromAccount != "" || r.FromUsername != "" || r.From != user) {
				t.Errorf("killed after %d (%s): %s's message to bob is from %q, account %q, username %q", k, after, user, r.From, r.FromAccount, r.FromUsername)
			}
		}
		h.Settle()
		s := state(t, h, bob)
		if n := len(slices.DeleteFunc(slices.Clone(s.Members), func(m string) bool { return m != user+"x" })); n > 1 {
			t.Errorf("killed after %d (%s): bob's lobby lists %sx %d times: %q", k, after, user, n, s.Members)
		}
		if s.Count != len(s.Members) {
			t.Errorf("killed after %d (%s): bob's lobby counts %d and lists %q", k, after, s.Count, s.Members)
		}
		if !killed {
			if k < 10 {
				t.Errorf("the deletion made only %d requests", k)
			}
			return
		}
	}
}

// A device that connected during the deletion (its tombstone transaction
// found it: late24) and the deletion killed after each of its requests from
// the tombstone on: run again by the operator (even k) or only by the
// second forget (odd k), the room lists and counts bob alone, the late
// device is closed, and its name is free for another account.
func TestADeletionWithALateDeviceKilledAfterEachRequestPastItsTombstoneLeavesNoDeviceListed(t *testing.T) {
	t.Parallel()
	q := &settleQueue{}
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited, func(o *chat.Options) { o.Settle = q })
	for k := 0; ; k++ {
		user, room := fmt.Sprintf("dave%d", k), fmt.Sprintf("late-crash-%d", k)
		bob := h.JoinAs(fmt.Sprintf("bob%d", k), room) // an account has at most 5 devices
		phone, killed := lateDeviceDeletion(t, h, user, room, k)
		runAgain(t, h, q, user, k%2 == 0)
		h.Settle()
		if s := state(t, h, bob); !slices.Equal(s.Members, []string{fmt.Sprintf("bob%d", k)}) || s.Count != 1 {
			t.Errorf("killed after the tombstone and %d requests, run again: bob's room lists %q counting %d", k, s.Members, s.Count)
		}
		if !slices.Contains(h.GW.Closed(), phone) {
			t.Errorf("killed after the tombstone and %d requests, run again: %s's phone is open", k, user)
		}
		other, _ := h.ConnectAs("sub-other-"+user, "other"+user, map[string]string{"room": room, "name": user})
		if s := state(t, h, other); s.You != user {
			t.Errorf("killed after the tombstone and %d requests, run again: another account asking for %s is %q", k, user, s.You)
		}
		if !killed {
			if k < 3 {
				t.Errorf("the deletion made only %d requests after its tombstone", k)
			}
			t.Logf("killed after the tombstone and each of %d requests", k)
			return
		}
	}
}
