package chat_test

// Hostile review of issue 22 (names, device cap, budget, convergence),
// after the checker's page-members and page-count fixes: each finding made
// deterministic.

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
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
	frames := applyTaken(t, h, &p, watcher)
	if got, want := p.Names(), []string{"Dot", "carol"}; !slices.Equal(got, want) {
		t.Errorf("Carol's page shows %v, want %v; it was sent:\n%s", got, want, frames)
	}
}

// A public message's @names are looked up one by one (each a GetItem of
// the name's owner and, when held, one of the holder's account): eight
// mentions of people in the room made 20 DynamoDB requests for the one
// unit a plain message makes 4 for, and a person's budget bought five
// times the requests through them (the design's bound, from the private
// message's pricing: no frame buys more than about twice a plain one's
// requests per unit). Now the lookups past the first draw a unit every two.
func TestAMessageOfEightMentionsDrawsAsManyUnitsAsItMakesRequests(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn) // the default budget: 20 units per 10 s
	room := "mentions"
	alice := h.JoinAs("alice", room)
	var text []string
	for i := range 8 {
		name := "p" + string(rune('a'+i)) + "x"
		h.JoinAs(name, room)
		text = append(text, "@"+name)
	}
	h.Settle()
	h.GW.Take(alice)
	requests := func(body string) (int64, bool) {
		before := h.DynamoDB.Counts()
		h.Send(alice, body)
		after := h.DynamoDB.Counts()
		n := int64(0)
		for op, c := range after {
			n += c - before[op]
		}
		for _, f := range inbox(t, h, alice) {
			if f.Type == "error" {
				return n, false
			}
		}
		return n, true
	}
	plain, ok := requests(`{"action":"sendPublic","message":"hi"}`)
	if !ok {
		t.Fatal("the plain message was refused")
	}
	body := `{"action":"sendPublic","message":"` + strings.Join(text, " ") + `"}`
	eight, accepted := int64(0), 0
	for range 20 {
		n, ok := requests(body)
		if !ok {
			break
		}
		eight, accepted = n, accepted+1
	}
	if accepted == 0 {
		t.Fatal("no message of eight mentions was accepted")
	}
	units := float64(20-1) / float64(accepted)
	t.Logf("plain: %d requests for 1 unit; eight mentions: %d requests, %d accepted on 19 units (%.1f units each)", plain, eight, accepted, units)
	if per := float64(eight) / units; per > 2*float64(plain) {
		t.Errorf("a message of eight mentions makes %.0f requests per unit it draws, a plain one %d: a person's budget buys %.1f× the requests through it",
			per, plain, per/float64(plain))
	}
}

// Six tabs of Alice's connect at once while DynamoDB answers each device
// add with an error after applying it (the SDK's retry then fails its
// condition against its own first attempt) and cancels every other
// transaction once: five tabs are in, her account lists exactly those five,
// the room counts her once, and Carol's page shows her once with that count.
func TestSixConnectsAtOnceUnderAppliedThenFailedDeviceAddsGetFiveInAndCountHerOnce(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	watcher := h.JoinAs("carol", "lobby")
	h.Settle()
	h.GW.Take(watcher)
	var p chattest.Page
	if err := p.Apply([]byte(h.Send(watcher, `{"action":"hello"}`))); err != nil {
		t.Fatal(err)
	}
	var failed sync.Map
	var txs atomic.Int64
	h.DynamoDB.Inject(ddbproxy.Faults{
		ApplyThenFail: func(w ddbproxy.Write) bool {
			if w.Op != "UpdateItem" || !bytes.Contains(w.Body, []byte(`"a#alice"`)) ||
				!bytes.Contains(w.Body, []byte(contract.AccountDevicePrefix)) {
				return false
			}
			_, again := failed.LoadOrStore(string(w.Body), true)
			return !again
		},
		Conflict: func(w ddbproxy.Write) bool { return w.Action == 0 && txs.Add(1)%2 == 0 },
	})
	in, refused := tabsAtOnce(t, h, 6)
	h.DynamoDB.Restore()
	h.Settle()
	applied := 0
	failed.Range(func(any, any) bool { applied++; return true })
	if applied == 0 || txs.Load() < 2 {
		t.Fatalf("no device add was failed after applying (%d) or no transaction cancelled (%d asked)", applied, txs.Load())
	}
	if len(in) != chat.DefaultMaxDevices {
		t.Errorf("6 racing connects of alice got %d in (%d refused: %v), want %d", len(in), len(refused), refused, chat.DefaultMaxDevices)
	}
	a, err := h.Store.Account(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Devices) != len(in) {
		t.Errorf("alice's account lists %d devices, %d tabs are in", len(a.Devices), len(in))
	}
	n, err := h.Store.RoomCount(context.Background(), "lobby")
	if err != nil {
		t.Fatal(err)
	}
	frames := applyTaken(t, h, &p, watcher)
	if n != 2 {
		t.Errorf("the room counts %d, want 2 (alice once, carol)", n)
	}
	if got, ok := p.Count(); !ok || got != n {
		t.Errorf("Carol's page shows the count %d; the room counts %d; she was sent:\n%s", got, n, frames)
	}
	if got, want := p.Names(), []string{"alice", "carol"}; !slices.Equal(got, want) {
		t.Errorf("Carol's page shows %v, want %v; she was sent:\n%s", got, want, frames)
	}
}

// Bob renames himself on both his tabs at once (Dot on one, Eve on the
// other), in one millisecond. He ends with one name: Carol's page shows
// that name alone beside hers, and the other name is free for Dave.
func TestBobRenamingOnBothTabsAtOnceEndsWithOneNameOnEveryPage(t *testing.T) {
	t.Parallel()
	for round := range 4 {
		var clock frozenClock
		h := chattest.New(t, chattest.SignedIn, clock.option)
		room := "both-renames"
		one, two := h.JoinAs("bob", room), h.JoinAs("bob", room)
		watcher := h.JoinAs("carol", room)
		dave := h.JoinAs("dave", "elsewhere")
		h.Settle()
		h.GW.Take(watcher)
		var p chattest.Page
		if err := p.Apply([]byte(h.Send(watcher, `{"action":"hello"}`))); err != nil {
			t.Fatal(err)
		}
		clock.at.Store(time.Now().UnixNano())
		var wg sync.WaitGroup
		for _, c := range []struct{ id, name string }{{one, "Dot"}, {two, "Eve"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.Send(c.id, `{"action":"setName","name":"`+c.name+`"}`)
			}()
		}
		wg.Wait()
		a, err := h.Store.Account(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		other := map[string]string{"Dot": "Eve", "Eve": "Dot"}[a.Name]
		if other == "" {
			t.Fatalf("round %d: Bob's account is named %q, want Dot or Eve", round, a.Name)
		}
		frames := applyTaken(t, h, &p, watcher)
		if got, want := p.Names(), []string{a.Name, "carol"}; !slices.Equal(got, want) {
			t.Errorf("round %d: Carol's page shows %v, want %v; she was sent:\n%s", round, got, want, frames)
		}
		if got := h.Send(dave, `{"action":"setName","name":"`+other+`"}`); strings.Contains(got, `"error"`) {
			t.Errorf("round %d: Bob is %s, yet Dave cannot take %s: %s", round, a.Name, other, got)
		}
	}
}

// Without sign-in a room's names are told apart by Fold, with the page's
// foldName one name in every case. Fold took a Cherokee name's capitals to
// small letters and its small letters to capitals (golang.org/x/text's
// cases.Fold), so "ᎠᎡᎢ" and "ꭰꭱꭲ", one name in two cases, were two names to
// the room: both were held there at once, and every page, which folds them
// to one, showed one person where the room had two.
func TestACherokeeNameInOtherCaseIsTheSameNameInTheRoom(t *testing.T) {
	t.Parallel()
	if a, b := chat.Fold("ᎠᎡᎢ"), chat.Fold("ꭰꭱꭲ"); a != b {
		t.Errorf("Fold(ᎠᎡᎢ) = %q, Fold(ꭰꭱꭲ) = %q: one name in two cases folds apart", a, b)
	}
	h := chattest.New(t)
	first := h.Join("ᎠᎡᎢ", "cherokee")
	second := h.Join("ꭰꭱꭲ", "cherokee")
	h.Settle()
	you := func(id string) string {
		var f struct{ You string }
		if err := json.Unmarshal([]byte(h.Send(id, `{"action":"hello"}`)), &f); err != nil {
			t.Fatal(err)
		}
		return f.You
	}
	if a, b := you(first), you(second); chat.Fold(a) == chat.Fold(b) || a == "ꭰꭱꭲ" && b == "ᎠᎡᎢ" || b == "ꭰꭱꭲ" && a == "ᎠᎡᎢ" {
		t.Errorf("two people in the room hold %q and %q, one name in two cases", a, b)
	}
}

// Fold is a form names are compared in: folding a fold changes nothing.
func TestFoldingAFoldChangesNothing(t *testing.T) {
	t.Parallel()
	for r := rune(0x20); r < 0x30000; r++ {
		s := string(r)
		if f := chat.Fold(s); chat.Fold(f) != f {
			t.Errorf("Fold(%q) = %q, folded again %q", s, f, chat.Fold(f))
		}
	}
}
