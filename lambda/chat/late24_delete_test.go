package chat_test

// late24: a device that connected during an account's deletion (its
// tombstone transaction read it), the deletion killed right after the
// tombstone, before that device was removed.

import (
	"bytes"
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Dave deletes his account from his laptop while his phone, with a token
// issued after the deletion's sign-out, connects to bob's room before the
// tombstone: the tombstone's transaction finds the phone's device. The
// function is killed right after the tombstone, before the phone's record
// is removed. Then the operator runs the deletion again, or the second
// forget comes (the deletion sent it right after its tombstone): either
// way bob's room must no longer list or count dave's phone, and the phone
// must be closed.
func TestLate24ALateDeviceOfADeletionKilledAfterItsTombstoneIsRemovedByTheRunAgain(t *testing.T) {
	t.Parallel()
	for _, again := range []string{"operator", "second-forget"} {
		t.Run(again, func(t *testing.T) {
			t.Parallel()
			q := &settleQueue{}
			h := chattest.New(t, chattest.SignedIn, func(o *chat.Options) { o.Settle = q })
			room := "late24-" + again
			bob := h.JoinAs("bob", room)
			phone, killed := lateDeviceDeletion(t, h, "dave", room, 0)
			if !killed {
				t.Fatal("the deletion was not killed after its tombstone")
			}
			h.Settle()
			if s := state(t, h, bob); !slices.Contains(s.Members, "dave") {
				t.Fatalf("killed after the tombstone, bob's room lists %q: the phone is not listed, nothing to test", s.Members)
			}
			runAgain(t, h, q, "dave", again == "operator")
			h.Settle()
			if s := state(t, h, bob); !slices.Equal(s.Members, []string{"bob"}) || s.Count != 1 {
				t.Errorf("after the %s, bob's room lists %q counting %d, want [bob] and 1", again, s.Members, s.Count)
			}
			if !slices.Contains(h.GW.Closed(), phone) {
				t.Errorf("after the %s, dave's phone is still open", again)
			}
		})
	}
}

// lateDeviceDeletion connects account's laptop to room and deletes the
// account from it; inside the deletion's first tombstone transaction (which
// then reads again and tries again) the account's phone connects with a
// token issued after the sign-out. The deletion is killed at its after-th
// request after the applied tombstone (its first: the phone's removal), and
// every one after it. It returns the phone's connection, and whether the
// deletion was killed (false: it made fewer requests).
func lateDeviceDeletion(t *testing.T, h *chattest.Harness, account, room string, after int) (string, bool) {
	t.Helper()
	laptop := h.JoinAs(account, room)
	h.Settle()
	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	var phone signedConn
	var tombs, past atomic.Int32
	var killed atomic.Bool
	isTomb := func(w ddbproxy.Write) bool {
		return w.Op == "TransactWriteItems" && bytes.Contains(w.Body, []byte(`"deleted"`))
	}
	h.DynamoDB.Inject(ddbproxy.Faults{
		Before: func(w ddbproxy.Write) {
			if isTomb(w) && tombs.Add(1) == 1 { // the first try: the phone connects, the try reads again
				h.Advance(2 * time.Second)
				now := h.Now()
				phone = newSignedConn(account, now, now.Add(time.Hour))
				if resp := phone.event(t, h, contract.RouteConnect, "", map[string]string{"room": room}); resp.StatusCode == 200 {
					h.GW.Open(phone.id)
				}
			}
		},
		Drop: func(w ddbproxy.Write) bool {
			if killed.Load() {
				return true
			}
			if tombs.Load() >= 2 && !isTomb(w) && int(past.Add(1)) > after {
				killed.Store(true)
				kill()
				return true
			}
			return false
		},
	})
	h.SendCtx(ctx, laptop, `{"action":"deleteAccount","ref":"del"}`)
	h.DynamoDB.Restore()
	if tombs.Load() < 2 || !deleted(t, h, account) {
		t.Fatalf("the phone did not connect inside %s's deletion, or it did not put its tombstone (%d tries)", account, tombs.Load())
	}
	return phone.id, killed.Load()
}

// runAgain finishes a killed deletion of account: the operator runs it
// again (operator), then the second forgets sent come; or only they come.
func runAgain(t *testing.T, h *chattest.Harness, q *settleQueue, account string, operator bool) {
	t.Helper()
	if operator {
		req := contract.OperatorRequest{Op: contract.OpDeleteAccount, Username: account, Account: account}
		if ans := operate(t, h, req); ans.Result != contract.ResultAlready && ans.Result != contract.ResultDone {
			t.Errorf("the operator's run again of %s's deletion was answered %+v", account, ans)
		}
	}
	forgetAgain(t, h, q)
}
