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
			bob, laptop := h.JoinAs("bob", room), h.JoinAs("dave", room)
			h.Settle()
			ctx, kill := context.WithCancel(context.Background())
			defer kill()
			var phone signedConn
			var tombs atomic.Int32
			var killed atomic.Bool
			h.DynamoDB.Inject(ddbproxy.Faults{
				Before: func(w ddbproxy.Write) {
					if w.Op != "TransactWriteItems" || !bytes.Contains(w.Body, []byte(`"deleted"`)) {
						return
					}
					if tombs.Add(1) == 1 { // the first try: the phone connects, the try reads again
						h.Advance(2 * time.Second)
						now := h.Now()
						phone = newSignedConn("dave", now, now.Add(time.Hour))
						if resp := phone.event(t, h, contract.RouteConnect, "", map[string]string{"room": room}); resp.StatusCode == 200 {
							h.GW.Open(phone.id)
						}
					}
				},
				// Killed at the deletion's first request after the
				// applied tombstone (the phone's removal), and every one
				// after it.
				Drop: func(w ddbproxy.Write) bool {
					if killed.Load() {
						return true
					}
					if tombs.Load() >= 2 && !(w.Op == "TransactWriteItems" && bytes.Contains(w.Body, []byte(`"deleted"`))) {
						killed.Store(true)
						kill()
						return true
					}
					return false
				},
			})
			h.SendCtx(ctx, laptop, `{"action":"deleteAccount","ref":"del"}`)
			h.DynamoDB.Restore()
			if tombs.Load() < 2 || !killed.Load() || !deleted(t, h, "dave") {
				t.Fatalf("the phone did not connect inside the deletion, or it was not killed after its tombstone (%d tries, killed %v)",
					tombs.Load(), killed.Load())
			}
			h.Settle()
			if s := state(t, h, bob); !slices.Contains(s.Members, "dave") {
				t.Fatalf("killed after the tombstone, bob's room lists %q: the phone is not listed, nothing to test", s.Members)
			}
			if again == "operator" {
				if ans := operate(t, h, contract.OperatorRequest{Op: contract.OpDeleteAccount, Username: "dave", Account: "dave"}); ans.Result != contract.ResultAlready {
					t.Errorf("the operator's run again was answered %+v, want already", ans)
				}
			} else {
				forgetAgain(t, h, q)
			}
			h.Settle()
			if s := state(t, h, bob); !slices.Equal(s.Members, []string{"bob"}) || s.Count != 1 {
				t.Errorf("after the %s, bob's room lists %q counting %d, want [bob] and 1", again, s.Members, s.Count)
			}
			if !slices.Contains(h.GW.Closed(), phone.id) {
				t.Errorf("after the %s, dave's phone is still open", again)
			}
		})
	}
}
