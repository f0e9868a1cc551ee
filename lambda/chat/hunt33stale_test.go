package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// Dan's phone loses its network 20 s after it connected: Ann's message
// gets a 410 for it, judged as of the post (Dan younger than the grace:
// kept, he may be connecting still). A later message, past the grace,
// removes him: a connection that truly vanished is not kept for good by
// the grace being measured from the posts.
func TestHunt33AVanishedConnectionSparedAsYoungIsRemovedByALaterBroadcast(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	const room = "hunt33-stale"
	ann, dan := h.Join("Ann", room), h.Join("Dan", room)
	h.Settle()
	h.Advance(20 * time.Second)
	h.GW.Vanish(dan)
	h.GW.Take(ann)
	h.Send(ann, `{"action":"sendPublic","message":"one"}`)
	if _, err := h.Store.GetConnection(context.Background(), dan); err != nil {
		t.Fatalf("Dan, 20 s old when the frame was posted, was removed: %v", err)
	}
	h.Advance(15 * time.Second)
	h.Send(ann, `{"action":"sendPublic","message":"two"}`)
	if _, err := h.Store.GetConnection(context.Background(), dan); err == nil {
		t.Errorf("Dan, vanished and 35 s old when the second frame was posted, is still there")
	}
}
