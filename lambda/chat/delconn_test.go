package chat_test

// delconn: a connection of an account being deleted that is not the one
// deleting it (the randomized checker: a tab that connected while its
// account was deleted, whose close the deletion never made) sent a message
// during the deletion and got no answer and no close: its frames vanished
// until the deletion's FunctionTimeout had passed.

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// Dave's phone deletes his account (or an operator does) while his laptop
// is open: the laptop sends a message while the deletion runs (held after
// its sign-out, or after its tombstone), or just after it when the
// deletion's close of the laptop was lost. The laptop is not the deleting
// page: it must be told signed_out and closed at once, never left open
// with its message unanswered, and nobody gets the message. The phone is
// still answered accountDeleted.
func TestAnotherConnectionsFrameDuringItsAccountsDeletionIsAnsweredSignedOutAndClosed(t *testing.T) {
	t.Parallel()
	for _, when := range []string{"signed-out", "tombstoned", "close-lost", "operator/close-lost"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			h := chattest.New(t, chattest.SignedIn)
			room := "delconn-" + strings.ReplaceAll(when, "/", "-")
			bob, phone, laptop := h.JoinAs("bob", room), h.JoinAs("dave", room), h.JoinAs("dave", room)
			h.Settle()
			for _, id := range []string{bob, phone, laptop} {
				inbox(t, h, id)
			}
			post := `{"action":"sendPublic","message":"after my deletion","ref":"late"}`
			var closedThen bool
			var during []frame
			held := when == "signed-out" || when == "tombstoned"
			fired := &atomic.Bool{}
			if held {
				fired = duringDeletion(h, when, func() {
					during = sendAnd(t, h, laptop, post)
					closedThen = closed(h, laptop)
				})
			} else {
				h.GW.LoseClose(laptop)
			}
			var own []frame
			if when == "operator/close-lost" {
				if a := operate(t, h, contract.OperatorRequest{Op: contract.OpDeleteAccount, Account: "dave", Username: "dave"}); a.Result != contract.ResultDone {
					t.Fatalf("the operator's deletion was answered %+v", a)
				}
			} else {
				own = sendAnd(t, h, phone, `{"action":"deleteAccount","ref":"del"}`)
			}
			h.DynamoDB.Restore()
			if !deleted(t, h, "dave") {
				t.Fatal("dave is not deleted")
			}
			if when != "operator/close-lost" && !slices.ContainsFunc(own, func(f frame) bool { return f.Type == "accountDeleted" && f.Ref == "del" }) {
				t.Errorf("dave's phone got %v, want accountDeleted", types(own))
			}
			if held {
				if !fired.Load() {
					t.Fatal("the laptop sent nothing during the deletion")
				}
			} else {
				if closed(h, laptop) {
					t.Fatal("the laptop was closed by the deletion: its close was to be lost")
				}
				during = sendAnd(t, h, laptop, post)
				closedThen = closed(h, laptop)
			}
			if !slices.ContainsFunc(during, func(f frame) bool { return f.Code == contract.CodeSignedOut && f.Ref == "late" }) || !closedThen {
				t.Errorf("the laptop's message during dave's deletion (%s) got %v, closed %v; want signed_out, closed",
					when, types(during), closedThen)
			}
			h.Settle()
			if slices.ContainsFunc(inbox(t, h, bob), func(f frame) bool { return f.Type == "public" }) {
				t.Errorf("bob got the laptop's message sent during dave's deletion")
			}
		})
	}
}

// Dave's phone and laptop both ask to delete his account at the same
// moment (the second sign-out finds the first's recorded: its condition
// fails): both are left to their deletions (no answer, not closed: each
// is answered accountDeleted, then closed, by its own), and his tablet,
// which asked for nothing, is told signed_out and closed.
func TestTwoPagesDeletingTheAccountAtOnceAreBothLeftToTheirDeletions(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "delconn-both"
	phone, laptop, tablet := h.JoinAs("dave", room), h.JoinAs("dave", room), h.JoinAs("dave", room)
	h.Settle()
	at := h.Now().Truncate(time.Millisecond)
	for _, id := range []string{phone, laptop} {
		inbox(t, h, id)
		if _, err := h.Store.SignOutToDelete(context.Background(), "dave", id, at); err != nil {
			t.Fatal(err)
		}
	}
	a, err := h.Store.Account(context.Background(), "dave")
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values([]string{phone, laptop})); !slices.Equal(a.DeletingConns, want) {
		t.Errorf("the account's deleting connections are %q, want %q", a.DeletingConns, want)
	}
	for _, id := range []string{phone, laptop} {
		if got := act(t, h, id, map[string]any{"action": "ping", "ref": "p"}); len(got) != 0 || closed(h, id) {
			t.Errorf("a deleting page's ping got %v, closed %v; want nothing, open", types(got), closed(h, id))
		}
	}
	got := act(t, h, tablet, map[string]any{"action": "ping", "ref": "p"})
	if !slices.ContainsFunc(got, func(f frame) bool { return f.Code == contract.CodeSignedOut }) || !closed(h, tablet) {
		t.Errorf("the tablet's ping got %v, closed %v; want signed_out, closed", types(got), closed(h, tablet))
	}
}
