package chat_test

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Dot's phone drops and reconnects with her resume token just after her
// old connection's $disconnect released her name, while it tells the room
// and before it deletes the record (which logs her left). She is connected:
// the activity log's newest record about Dot must say she joined, not that
// she left. The left happened when the name was released, before her new
// connection claimed it; it was stamped at the delete instead, after her
// new joined (the stress test saw it once on a busy machine).
func TestTheLogShowsDotJoinedLastWhenSheReconnectedWhileHerOldConnectionWasLeaving(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	const room = "log"
	h.Join("Ann", room)
	old, resp := h.Connect(map[string]string{"name": "Dot", "room": room})
	if resp.StatusCode != 200 {
		t.Fatalf("connect: status %d", resp.StatusCode)
	}
	token := decode(t, []byte(h.Send(old, `{"action":"hello"}`))).Resume
	h.Settle()
	var released, fired atomic.Bool
	var reconnected string
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		switch {
		case w.Op == "DeleteItem" && bytes.Contains(w.Body, []byte(old)):
			released.Store(true) // the release of her name, about to be sent
		case released.Load() && fired.CompareAndSwap(false, true):
			// The $disconnect's next request: the name is free.
			id, resp := h.Connect(map[string]string{"name": "Dot", "room": room, "resume": token})
			if resp.StatusCode != 200 {
				t.Errorf("reconnect: status %d", resp.StatusCode)
			}
			reconnected = id
			h.Advance(20 * time.Millisecond) // the old connection's delete comes later
		}
	}})
	h.Disconnect(old)
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("Dot's $disconnect made no request after releasing her name")
	}
	if s := state(t, h, reconnected); s.You != "Dot" {
		t.Fatalf("the reconnect is called %q, want Dot", s.You)
	}
	if last := lastPresence(t, h, room, "Dot"); last != "" {
		t.Errorf("Dot is connected, yet the newest record about her in the activity log says %s", last)
	}
}
