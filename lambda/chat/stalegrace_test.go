package chat_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// TestAConnectionStillConnectingWhenABroadcastReachedItIsKeptHoweverLongTheRemovalsTake:
// Bob's $connect is slow (20 s: within API Gateway's limits); Ann's message
// reaches him while it runs, and API Gateway answers 410 for him, as for
// Dan, whose phone lost its network. Removing Dan and telling the room
// takes the invocation 11 s more, and the members frame gets Bob's 410
// again; Bob's $connect returns meanwhile. A 410 says nothing of a
// connection younger than the grace when the frame was posted to it: Bob
// stays. Judged at the time of the removal instead (Bob 31 s old by then),
// his record went as gone: his page, connected, was answered not_connected
// and the room was told he left (the stress test's "5 live connections,
// want 6" under load).
func TestAConnectionStillConnectingWhenABroadcastReachedItIsKeptHoweverLongTheRemovalsTake(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	const room = "slow"
	dan := h.Join("Dan", room)
	ann := h.Join("Ann", room)
	h.Advance(15 * time.Second)
	bob := chattest.NewConnID()
	// Bob's $connect has put his record; API Gateway answers 410 for him
	// until it returns (the test opens him on the gateway below).
	if resp := h.Invoke(context.Background(), bob, contract.RouteConnect, "", map[string]string{"name": "Bob", "room": room}); resp.StatusCode != 200 {
		t.Fatalf("Bob's $connect answered %d %s", resp.StatusCode, resp.Body)
	}
	h.GW.Vanish(dan)
	h.Advance(20 * time.Second) // Dan connected 35 s ago, Bob 20 s ago
	h.Settle()                  // the index lists Bob
	h.GW.Take(ann)

	var once sync.Once
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(r ddbproxy.Write) {
		// Dan's record deleted once the room was told (its members frame
		// got Bob's 410 a second time): Bob's $connect has returned, and
		// the removals took 11 s.
		if r.Op == "TransactWriteItems" && bytes.Contains(r.Body, []byte(dan)) {
			once.Do(func() {
				h.GW.Open(bob)
				h.Advance(11 * time.Second)
			})
		}
	}})
	h.Send(ann, `{"action":"sendPublic","message":"hi"}`)
	h.DynamoDB.Restore()

	if f := decode(t, []byte(h.Send(bob, `{"action":"hello"}`))); f.Type != "state" {
		t.Errorf("Bob, connected, asked for his state and was answered %+v", f)
	}
	for _, f := range inbox(t, h, ann) {
		for _, gone := range f.Gone {
			if gone == "Bob" {
				t.Errorf("Ann was told Bob went (%s frame), while he was connecting", f.Type)
			}
		}
	}
	if _, err := h.Store.GetConnection(context.Background(), dan); err == nil {
		t.Errorf("Dan's record, whose connection vanished 35 s after it connected, is still there")
	}
}
