package chat_test

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

// A broadcast whose first read of the member list was slow and failed near
// the deadline does not read it again when a read (each attempt up to its
// request's 3 s limit) may not end before the cut-off: roomMembers asked
// RetryAllowed only whether the read could *start* before the cut-off, and
// the read ran on the invocation's own context, to its deadline itself. The
// second read here takes until past the deadline (as a read cut at its 3 s
// limit would): the fan-out's context has ended, and the sender is sent
// nothing, not even the copy she was sent before 6498f64 (her page then
// shows the message unconfirmed), and the invocation ran past its deadline.
func TestAMemberListReadAgainDoesNotRunPastTheDeadline(t *testing.T) {
	t.Parallel()
	const margin = 500 * time.Millisecond
	clock := &chattest.DeadlineClock{}
	h := chattest.New(t, func(o *chat.Options) { o.DeadlineClock, o.DeadlineMargin = clock, margin })
	alice, bob := h.Join("Alice", "r1"), h.Join("Bob", "r1")
	h.Settle()
	for _, id := range []string{alice, bob} {
		h.GW.Take(id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var armed atomic.Bool
	var reads atomic.Int32
	h.DynamoDB.Inject(ddbproxy.Faults{Drop: func(w ddbproxy.Write) bool {
		if !armed.Load() || w.Op != "Query" || !bytes.Contains(w.Body, []byte(contract.RoomIndex)) {
			return false
		}
		switch n := int(reads.Add(1)); {
		case n < dynamoDBAttempts:
			return true
		case n == dynamoDBAttempts:
			// The first read's last attempt fails 700 ms before the
			// deadline: 200 ms before the cut-off, time enough for the
			// sender's copy, not for another read of up to 3 s.
			clock.AdvanceTo(deadline.Add(-700 * time.Millisecond))
			return true
		default:
			// A read started now ends when it ends: here past the deadline.
			clock.AdvanceTo(deadline.Add(time.Millisecond))
			return false
		}
	}})
	defer h.DynamoDB.Restore()
	armed.Store(true)
	h.SendCtx(ctx, alice, `{"action":"sendPublic","message":"anyone there?","ref":"a1"}`)
	armed.Store(false)
	if fs := inbox(t, h, alice); !slices.Contains(types(fs), "public") {
		t.Errorf("Alice received %v, not her own copy; the member list was read %d times (%d attempts make one read), the last one started 700 ms before the deadline",
			types(fs), reads.Load(), dynamoDBAttempts)
	}
}
