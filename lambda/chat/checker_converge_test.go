package chat_test

// Pages that did not converge: failures of the randomized checker's
// page-members and page-count (issue 22 #6), each made deterministic.

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// frozenClock is the handler's clock, held at one instant once frozen:
// everything after happens within one millisecond, as on a fast machine,
// so every stamp ties.
type frozenClock struct{ at atomic.Int64 }

func (c *frozenClock) now() time.Time {
	if at := c.at.Load(); at != 0 {
		return time.Unix(0, at)
	}
	return time.Now()
}

func (c *frozenClock) option(o *chat.Options) { o.Now = c.now }

// Found by the randomized checker (page-members, seed 91077278320479 under
// load: "user2/tab2's page in room2 shows [ANN Bob Dot Eve]; the room is
// [ANN Dot Eve]"): Bob has two tabs in the room and one vanishes; a
// broadcast removes it and, Bob being still there on the other, its
// members frame says so (stayed, under the name the device update
// returned: Bob). Bob then renames himself Dot. The stayed entry was
// stamped after the update, the rename at its own start: in the same
// millisecond (or with the removal paused between its update and its
// clock read) the rename's release of "Bob" was no newer than the stayed
// entry, and every page kept Bob beside Dot for good.
func TestAStayedEntryDoesNotOutliveARenameJustAfter(t *testing.T) {
	t.Parallel()
	var clock frozenClock
	h := chattest.New(t, chattest.SignedIn, clock.option)
	room := "conv-stayed"
	gone, tab := h.JoinAs("bob", room), h.JoinAs("bob", room)
	watcher := h.JoinAs("carol", room)
	h.Settle()
	h.GW.Take(watcher)
	var p chattest.Page
	if err := p.Apply([]byte(h.Send(watcher, `{"action":"hello"}`))); err != nil {
		t.Fatal(err)
	}
	// Past the stale grace, so the broadcast removes the vanished tab; the
	// clock stands still from here.
	clock.at.Store(time.Now().Add(31 * time.Second).UnixNano())
	h.GW.Vanish(gone)
	h.Send(watcher, `{"action":"sendPublic","message":"anyone?"}`)
	h.Send(tab, `{"action":"setName","name":"Dot"}`)
	var frames []string
	for _, raw := range h.GW.Take(watcher) {
		frames = append(frames, string(raw))
		if err := p.Apply(raw); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := p.Names(), []string{"Dot", "carol"}; !slices.Equal(got, want) {
		t.Errorf("Carol's page shows %v, want %v; it was sent:\n%s", got, want, frames)
	}
}
