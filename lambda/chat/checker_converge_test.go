package chat_test

// Pages that did not converge: failures of the randomized checker's
// page-members and page-count (issue 22 #6), each made deterministic.

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
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
	frames := applyTaken(t, h, &p, watcher)
	if got, want := p.Names(), []string{"Dot", "carol"}; !slices.Equal(got, want) {
		t.Errorf("Carol's page shows %v, want %v; it was sent:\n%s", got, want, frames)
	}
}

// Found by the randomized checker (page-count, seed 40217114271445): Dave
// deletes his account while another tab of his connects to the room. That
// $connect puts its record (not counted: his first tab's record counts
// him) and, adding its device, meets the deletion and is refused. The
// deletion's leave of his first tab told the room he left, with the count
// read while the connecting tab's record still counted him; the refused
// $connect then deleted that record, and with it Dave from the count,
// telling nobody: every page kept a count one too high for good.
func TestARefusedConnectThatTakesItsPersonFromTheCountTellsTheRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	room := "conv-refused"
	first := h.JoinAs("dave", room)
	watcher := h.JoinAs("carol", room)
	h.Settle()
	h.GW.Take(watcher)
	var p chattest.Page
	if err := p.Apply([]byte(h.Send(watcher, `{"action":"hello"}`))); err != nil {
		t.Fatal(err)
	}
	second := chattest.NewConnID()
	var deleted atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		// The second tab's device add, after its record's put.
		if w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"a#dave"`)) &&
			bytes.Contains(w.Body, []byte(contract.AccountDevicePrefix+second)) && deleted.CompareAndSwap(false, true) {
			if got := h.Send(first, `{"action":"deleteAccount"}`); !strings.Contains(got, string(chat.KindAccountDeleted)) && got != "" {
				t.Errorf("the deletion was answered %s", got)
			}
		}
	}})
	status := h.ConnectAsID(second, "dave", "dave", map[string]string{"room": room}).StatusCode
	h.DynamoDB.Restore()
	if !deleted.Load() {
		t.Fatal("the second tab's $connect never added its device")
	}
	if status == 200 {
		t.Fatalf("the second tab's $connect was answered 200 while its account was deleted")
	}
	frames := applyTaken(t, h, &p, watcher)
	n, err := h.Store.RoomCount(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := p.Count(); !ok || got != n || n != 1 {
		t.Errorf("Carol's page shows the count %d; the room counts %d (want 1); she was sent:\n%s", got, n, frames)
	}
	if got, want := p.Names(), []string{"carol"}; !slices.Equal(got, want) {
		t.Errorf("Carol's page shows %v, want %v", got, want)
	}
}
