package chat_test

// A signed-in person's devices, decided on the account's item and never on
// the lagging account index (issue 21, bugs 1, 2, 4 and 6): every test runs
// with the index behind the table, as DynamoDB's may be.

import (
	"bytes"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// pageOf is the page of connection id, from its hello's state.
func pageOf(t *testing.T, h *chattest.Harness, id string) *chattest.Page {
	t.Helper()
	var p chattest.Page
	if err := p.Apply([]byte(h.Send(id, `{"action":"hello"}`))); err != nil {
		t.Fatal(err)
	}
	return &p
}

// follow applies the frames delivered to id to its page, and returns them.
func follow(t *testing.T, h *chattest.Harness, p *chattest.Page, id string) []frame {
	t.Helper()
	var fs []frame
	for _, raw := range h.GW.Take(id) {
		if err := p.Apply(raw); err != nil {
			t.Fatal(err)
		}
		fs = append(fs, decode(t, raw))
	}
	return fs
}

// applyTaken applies the frames delivered to id to its page, and returns
// them as sent, for a failure to show.
func applyTaken(t *testing.T, h *chattest.Harness, p *chattest.Page, id string) []string {
	t.Helper()
	var sent []string
	for _, raw := range h.GW.Take(id) {
		if err := p.Apply(raw); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, string(raw))
	}
	return sent
}

// lagging is an index lag longer than any test: the index shows only what
// was written before the faults were set.
var lagging = ddbproxy.Faults{IndexLag: time.Minute}

// Alice closes a browser with two tabs: both $disconnects run together, and
// each would see the other tab still there. Bob must be told she left.
func TestBothTabsClosedTogetherTellBobSheLeft(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob, tab1, tab2 := h.JoinAs("bob", ""), h.JoinAs("alice", ""), h.JoinAs("alice", "")
	h.Settle() // Bob's page lists alice and the index Bob (joined under AWSLike's lag) before the tabs close
	p := pageOf(t, h, bob)
	var fired atomic.Bool
	f := lagging
	f.Before = func(w ddbproxy.Write) {
		// tab2 closes entirely while tab1's removal is between its decision
		// and its delete.
		if w.Op == "TransactWriteItems" && touches(w, tab1) && fired.CompareAndSwap(false, true) {
			h.Disconnect(tab2)
		}
	}
	h.DynamoDB.Inject(f)
	h.Disconnect(tab1)
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("tab1's removal never reached its delete")
	}
	fs := follow(t, h, p, bob)
	if left := ofType(fs, "left"); len(left) == 0 || left[0].Name != "alice" {
		t.Fatalf("Bob was sent %v: never told alice left", types(fs))
	}
	if got := p.Names(); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("Bob's page shows %v after alice closed both tabs", got)
	}
}

// Alice reloads her only tab: the new tab's $connect and the old one's
// $disconnect run within the index's lag, in either order, and the left of
// the old tab may even reach Bob after the joined of the new one. She must
// never drop out of Bob's list.
func TestReloadingTheOnlyTabNeverDropsHerFromBobsList(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		reload func(t *testing.T, h *chattest.Harness, old string) string
	}{
		{"the old tab closes first", func(t *testing.T, h *chattest.Harness, old string) string {
			h.Disconnect(old)
			return h.JoinAs("alice", "")
		}},
		{"the new tab connects first", func(t *testing.T, h *chattest.Harness, old string) string {
			tab := h.JoinAs("alice", "")
			h.Disconnect(old)
			return tab
		}},
		{"the old tab's left reaches Bob after the new tab's joined", func(t *testing.T, h *chattest.Harness, old string) string {
			var tab string
			f := lagging
			f.Before = func(w ddbproxy.Write) {
				// The old tab's removal has decided to announce left (its
				// device marked leaving) and counts the room for the frame;
				// the new tab connects and is announced first.
				if tab == "" && w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`ADD #credit`)) {
					tab = "connecting"
					tab = h.JoinAs("alice", "")
				}
			}
			h.DynamoDB.Inject(f)
			h.Disconnect(old)
			if tab == "" {
				t.Fatal("the old tab's removal never counted the room for its left")
			}
			return tab
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := chattest.New(t, chattest.SignedIn)
			bob, old := h.JoinAs("bob", ""), h.JoinAs("alice", "")
			h.Settle() // Bob's page lists alice and the index Bob (joined under AWSLike's lag) before the reload
			p := pageOf(t, h, bob)
			h.DynamoDB.Inject(lagging)
			tab := c.reload(t, h, old)
			h.DynamoDB.Restore()
			fs := follow(t, h, p, bob)
			if got := p.Names(); !slices.Equal(got, []string{"alice", "bob"}) {
				t.Fatalf("Bob's page shows %v after alice reloaded (he was sent %v)", got, types(fs))
			}
			if s := state(t, h, tab); s.You != "alice" {
				t.Fatalf("the reloaded tab is %q", s.You)
			}
		})
	}
}

// Bob is told alice joined and writes to her privately at once, before the
// account index lists her connection: she gets it.
func TestAPrivateMessageToSomeoneJustToldJoinedIsDelivered(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "")
	h.Settle() // the index lists Bob (joined under AWSLike's lag), so he is told alice joined
	h.DynamoDB.Inject(lagging)
	alice := h.JoinAs("alice", "")
	if joined := only(t, inbox(t, h, bob), "joined"); joined.Name != "alice" {
		t.Fatalf("Bob was told %+v", joined)
	}
	if resp := h.Send(bob, `{"action":"sendPrivate","to":["alice"],"message":"welcome","ref":"b1"}`); resp != "" {
		t.Fatalf("Bob's private message to alice was answered %s", resp)
	}
	fs := inbox(t, h, bob)
	if errs := ofType(fs, "error"); len(errs) > 0 {
		t.Fatalf("Bob's private message to alice, just told joined, was refused: %+v", errs[0])
	}
	if got := only(t, inbox(t, h, alice), "private"); got.Message != "welcome" {
		t.Fatalf("alice got %+v", got)
	}
}
