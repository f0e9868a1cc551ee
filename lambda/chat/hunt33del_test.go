package chat_test

import (
	"bytes"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Dave's page deletes his account, and the deletion's sign-out (the
// UpdateItem that records his connection in dc) is applied, then answered
// 500: the SDK's retry fails its condition against its own first attempt,
// and the fallback update adds the connection again. His page's ping held
// during the deletion (after the sign-out) is left to the deletion, and
// the page is answered accountDeleted; his laptop is told signed_out.
func TestHunt33ADeletionsSignOutAppliedThenFailedStillRecordsTheAskingPage(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "hunt33-del"
	phone, laptop := h.JoinAs("dave", room), h.JoinAs("dave", room)
	h.Settle()
	inbox(t, h, phone)
	inbox(t, h, laptop)
	var failed, fired atomic.Bool
	var during, laptopGot []frame
	var laptopClosed bool
	h.DynamoDB.Inject(ddbproxy.Faults{
		ApplyThenFail: func(w ddbproxy.Write) bool {
			return w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`#dc`)) && bytes.Contains(w.Body, []byte(`#dg`)) &&
				failed.CompareAndSwap(false, true)
		},
		Before: func(w ddbproxy.Write) {
			if w.Op == "TransactWriteItems" && bytes.Contains(w.Body, []byte(`"deleted"`)) && fired.CompareAndSwap(false, true) {
				during = act(t, h, phone, map[string]any{"action": "ping", "ref": "p"})
				laptopGot = act(t, h, laptop, map[string]any{"action": "ping", "ref": "p"})
				laptopClosed = closed(h, laptop)
			}
		},
	})
	got := sendAnd(t, h, phone, `{"action":"deleteAccount","ref":"del"}`)
	h.DynamoDB.Restore()
	if !failed.Load() || !fired.Load() {
		t.Fatalf("fault applied %v, held %v", failed.Load(), fired.Load())
	}
	if !deleted(t, h, "dave") {
		t.Fatal("dave is not deleted")
	}
	all := append(during, got...)
	if !slices.ContainsFunc(all, func(f frame) bool { return f.Type == "accountDeleted" && f.Ref == "del" }) ||
		slices.ContainsFunc(all, func(f frame) bool { return f.Code == contract.CodeSignedOut }) {
		t.Errorf("dave's phone got %v (its ping during the deletion %v), want accountDeleted and no signed_out", types(all), types(during))
	}
	if !slices.ContainsFunc(laptopGot, func(f frame) bool { return f.Code == contract.CodeSignedOut }) || !laptopClosed {
		t.Errorf("dave's laptop got %v, closed %v; want signed_out, closed", types(laptopGot), laptopClosed)
	}
}

// Dave's page deletes his account while an operator deletes it too: the
// operator's deletion runs whole while the page's is held after its
// sign-out (its tombstone keeps the page's dc), and a ping of the page
// after it is left to the page's deletion, which answers accountDeleted.
func TestHunt33AnOperatorsDeletionInsideAPagesLeavesThePageItsAnswer(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	phone := h.JoinAs("dave", "hunt33-op")
	h.Settle()
	inbox(t, h, phone)
	var during []frame
	var op contract.OperatorAnswer
	fired := duringDeletion(h, "signed-out", func() {
		h.DynamoDB.Restore() // the operator's deletion is not held
		op = operate(t, h, contract.OperatorRequest{Op: contract.OpDeleteAccount, Account: "dave", Username: "dave"})
		during = act(t, h, phone, map[string]any{"action": "ping", "ref": "p"})
	})
	got := sendAnd(t, h, phone, `{"action":"deleteAccount","ref":"del"}`)
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("the operator's deletion did not run during the page's")
	}
	if op.Result != contract.ResultDone {
		t.Errorf("the operator's deletion was answered %+v", op)
	}
	all := append(during, got...)
	if !slices.ContainsFunc(all, func(f frame) bool { return f.Type == "accountDeleted" && f.Ref == "del" }) ||
		slices.ContainsFunc(all, func(f frame) bool { return f.Code == contract.CodeSignedOut }) {
		t.Errorf("dave's phone got %v (its ping after the operator's deletion %v), want accountDeleted and no signed_out", types(all), types(during))
	}
}

// Dave's phone and laptop both ask to delete his account: the laptop's
// deletion runs whole while the phone's is held after its sign-out (both
// are recorded in dc). Each page must be answered accountDeleted by its
// own deletion (it is what tells dave his account is gone, and what lets
// the page delete the sign-in account): the laptop's deletion closing
// every device but the laptop closed the phone before the phone's
// deletion answered it, and the phone's answer was lost (its page, its
// connection gone, reconnects to a 403 and says "No answer from the
// server: your account may not be deleted"). Fails now: the phone got [left].
func TestHunt33TwoPagesDeletingTheAccountAtOnceAreBothAnsweredAccountDeleted(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "hunt33-both"
	bob, phone, laptop := h.JoinAs("bob", room), h.JoinAs("dave", room), h.JoinAs("dave", room)
	h.Settle()
	for _, id := range []string{bob, phone, laptop} {
		inbox(t, h, id)
	}
	var laptopGot []frame
	// The phone's deletion is held right after its sign-out, before the
	// devices leave: the laptop's deletion then reads both devices.
	var signedOut, fired atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		if w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`#dg`)) && signedOut.CompareAndSwap(false, true) {
			return
		}
		if signedOut.Load() && fired.CompareAndSwap(false, true) {
			laptopGot = sendAnd(t, h, laptop, `{"action":"deleteAccount","ref":"del-laptop"}`)
		}
	}})
	phoneGot := sendAnd(t, h, phone, `{"action":"deleteAccount","ref":"del-phone"}`)
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("the laptop's deletion did not run during the phone's")
	}
	if !deleted(t, h, "dave") {
		t.Fatal("dave is not deleted")
	}
	for _, c := range []struct {
		name, ref string
		got       []frame
	}{{"phone", "del-phone", phoneGot}, {"laptop", "del-laptop", laptopGot}} {
		if !slices.ContainsFunc(c.got, func(f frame) bool { return f.Type == "accountDeleted" && f.Ref == c.ref }) {
			t.Errorf("dave's %s, which asked to delete his account, got %v; want accountDeleted", c.name, types(c.got))
		}
	}
}
