package chat_test

// Hostile review of issue 22 (names, device cap, budget, convergence),
// after the checker's page-members and page-count fixes: each finding made
// deterministic.

import (
	"bytes"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Bob is in another room on his first tab and opens a second in Carol's.
// The second tab's $connect read his name (Bob) and added its device; Bob
// renames himself Dot on the first tab right then, in the same
// millisecond: the rename lists the new device and tells Carol's room Bob
// is Dot, and the joined the $connect then sends carries the old name. At
// an equal ts being there wins, so a joined stamped at the rename's own
// instant kept Bob beside Dot on every page for good.
func TestAJoinedDoesNotOutliveARenameJustAfterItsDeviceWasAdded(t *testing.T) {
	t.Parallel()
	var clock frozenClock
	h := chattest.New(t, chattest.SignedIn, clock.option)
	room := "conv-joined"
	first := h.JoinAs("bob", "conv-elsewhere")
	watcher := h.JoinAs("carol", room)
	h.Settle()
	h.GW.Take(watcher)
	var p chattest.Page
	if err := p.Apply([]byte(h.Send(watcher, `{"action":"hello"}`))); err != nil {
		t.Fatal(err)
	}
	clock.at.Store(time.Now().UnixNano())
	second := chattest.NewConnID()
	var added, renamed atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		switch {
		case w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"a#bob"`)) &&
			bytes.Contains(w.Body, []byte(contract.AccountDevicePrefix+second)):
			added.Store(true)
		case added.Load() && w.Op == "GetItem" && bytes.Contains(w.Body, []byte(second)) &&
			renamed.CompareAndSwap(false, true):
			// The $connect's next request after its device was added.
			if got := h.Send(first, `{"action":"setName","name":"Dot"}`); strings.Contains(got, `"error"`) {
				t.Errorf("the rename was answered %s", got)
			}
		}
	}})
	status := h.ConnectAsID(second, "bob", "bob", map[string]string{"room": room}).StatusCode
	h.DynamoDB.Restore()
	if !renamed.Load() || status != 200 {
		t.Fatalf("the rename did not land after the device was added (renamed %v), or $connect answered %d", renamed.Load(), status)
	}
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
