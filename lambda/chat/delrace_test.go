package chat_test

// delrace: the deleting page's own connection loses its accountDeleted to
// another frame of its own (a browser run under load: the connection was
// closed 45 ms after a frame of it ended, during the deletion, and before
// the deletion's answer).

import (
	"bytes"
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Dave's page asks to delete his account, and while the deletion runs
// (held after its sign-out, or after its tombstone, during the forget) the
// same page sends another frame: a hello (a reconnecting page's), a ping
// or a typing. That frame's connection was signed out by the deletion,
// but the page must still be answered accountDeleted (it is what tells
// dave his account is gone, and what lets the page delete the sign-in
// account), and only then closed; nor is it told "signed out everywhere"
// on the way.
func TestTheDeletingPagesOtherFrameDuringItsDeletionDoesNotCostItsAnswer(t *testing.T) {
	t.Parallel()
	for _, at := range []string{"signed-out", "tombstoned"} {
		for _, other := range []string{"hello", "ping", "typing"} {
			t.Run(at+"/"+other, func(t *testing.T) {
				t.Parallel()
				h := chattest.New(t, chattest.SignedIn)
				room := "delrace-" + other
				bob, dave := h.JoinAs("bob", room), h.JoinAs("dave", room)
				h.Settle()
				inbox(t, h, dave)
				var during []frame
				fired := duringDeletion(h, at, func() { during = sendAnd(t, h, dave, `{"action":"`+other+`","ref":"o1"}`) })
				got := sendAnd(t, h, dave, `{"action":"deleteAccount","ref":"del"}`)
				h.DynamoDB.Restore()
				if !fired.Load() {
					t.Fatal("no frame was sent during the deletion")
				}
				all := append(during, got...)
				if !deleted(t, h, "dave") {
					t.Fatal("dave is not deleted")
				}
				if !slices.ContainsFunc(all, func(f frame) bool { return f.Type == "accountDeleted" && f.Ref == "del" }) {
					t.Errorf("dave's page got %v (the %s during the deletion: %v), want accountDeleted", types(all), other, types(during))
				}
				if slices.ContainsFunc(all, func(f frame) bool { return f.Code == contract.CodeSignedOut }) {
					t.Errorf("dave's page was told signed_out during its own deletion: %+v", all)
				}
				if !closed(h, dave) {
					t.Errorf("dave's connection is still open after his deletion")
				}
				h.Settle()
				if s := state(t, h, bob); slices.Contains(s.Members, "dave") {
					t.Errorf("bob's room still lists dave: %q", s.Members)
				}
			})
		}
	}
}

// The deletion dave's phone asked for, killed right after its sign-out,
// leaves the phone open (its answer and close never came). Within the
// deletion's life a frame of the phone is left to the deletion (no answer,
// not closed: it may still be running, and answers and closes it); past
// it, the phone is told signed_out and closed, as after a sign-out
// everywhere. (Another connection of dave's is told signed_out at once:
// delconn_test.go.)
func TestAFrameOfAConnectionEndedByADeletionKilledLongAgoIsClosed(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	phone := h.JoinAs("dave", "delrace-killed")
	inbox(t, h, phone)
	if _, err := h.Store.SignOutToDelete(context.Background(), "dave", phone, h.Now()); err != nil {
		t.Fatal(err)
	}
	if got := act(t, h, phone, map[string]any{"action": "ping", "ref": "p1"}); len(got) != 0 || closed(h, phone) {
		t.Errorf("the phone's ping within the deletion's life got %v, closed %v; want nothing, open", types(got), closed(h, phone))
	}
	h.Advance(contract.FunctionTimeout + time.Second)
	got := act(t, h, phone, map[string]any{"action": "ping", "ref": "p2"})
	if !slices.ContainsFunc(got, func(f frame) bool { return f.Code == contract.CodeSignedOut }) || !closed(h, phone) {
		t.Errorf("the phone's ping past the deletion's life got %v, closed %v; want signed_out, closed", types(got), closed(h, phone))
	}
}

// duringDeletion has do run once while an account's deletion is held at
// step at: "signed-out" (its sign-out made, before its tombstone's
// transaction) or "tombstoned" (before its first write after the
// tombstone). It reports whether do ran.
func duringDeletion(h *chattest.Harness, at string, do func()) *atomic.Bool {
	var fired, tombstoned atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		tomb := w.Op == "TransactWriteItems" && bytes.Contains(w.Body, []byte(`"deleted"`))
		if tomb && at == "tombstoned" {
			tombstoned.Store(true)
			return
		}
		hold := (tomb && at == "signed-out") || (!tomb && tombstoned.Load())
		if hold && fired.CompareAndSwap(false, true) {
			do()
		}
	}})
	return &fired
}
