package chat_test

// Interleavings of one connection's routes with retries and with each other,
// found by a hostile review of the write-safety change. Every test
// forces its interleaving through the DynamoDB proxy (Before, ApplyThenFail)
// and checks what a user would notice.

import (
	"bytes"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// page is a member list kept the way the web page keeps it
// (frontend/src/presence.ts): per folded name, the last claim or release
// applied, by ts.
type page struct {
	members map[string]string
	last    map[string]pageMark
}

type pageMark struct {
	ts   int64
	here bool
}

func newPage(members []string) *page {
	p := &page{members: map[string]string{}, last: map[string]pageMark{}}
	for _, n := range members {
		p.members[chat.Fold(n)] = n
	}
	return p
}

func (p *page) mark(name string, ts int64, here bool) {
	k := chat.Fold(name)
	if l, ok := p.last[k]; ok && (ts < l.ts || (ts == l.ts && (l.here || !here))) {
		return
	}
	if here {
		p.members[k] = name
	} else {
		delete(p.members, k)
	}
	p.last[k] = pageMark{ts, here}
}

func (p *page) apply(fs []frame) {
	for _, f := range fs {
		switch f.Type {
		case "joined":
			p.mark(f.Name, f.TS, true)
		case "left":
			p.mark(f.Name, f.TS, false)
		case "renamed":
			if f.OldName == f.Name {
				continue
			}
			if chat.Fold(f.OldName) != chat.Fold(f.Name) {
				p.mark(f.OldName, f.TS, false)
			}
			p.mark(f.Name, f.TS, true)
		case "members":
			listed := map[string]string{}
			for _, n := range f.Members {
				listed[chat.Fold(n)] = n
			}
			next := map[string]string{}
			keys := map[string]bool{}
			for k := range p.members {
				keys[k] = true
			}
			for k := range listed {
				keys[k] = true
			}
			for k := range keys {
				l, ok := p.last[k]
				shown, isShown := p.members[k]
				switch {
				case ok && l.here && l.ts >= f.TS && isShown:
					next[k] = shown
				case ok && !l.here && l.ts > f.TS:
				default:
					if n, in := listed[k]; in {
						next[k] = n
					}
				}
			}
			p.members = next
		}
	}
}

func (p *page) names() []string {
	var out []string
	for _, n := range p.members {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// seesRoomAsItIs fails when Bob's page, following the frames he was sent,
// shows other people than the room has.
func seesRoomAsItIs(t *testing.T, h *chattest.Harness, p *page, bob string) {
	t.Helper()
	p.apply(inbox(t, h, bob))
	h.Settle() // the room as it is: the index (AWSLike's lag) shows every write made so far
	want := newPage(state(t, h, bob).Members).names()
	if got := p.names(); !slices.Equal(got, want) {
		t.Errorf("Bob's page, following the frames he was sent, shows %v; the room is %v", got, want)
	}
}

// nameIsFree fails when a newcomer cannot take name.
func nameIsFree(t *testing.T, h *chattest.Harness, name string) {
	t.Helper()
	if s := state(t, h, h.Join(name, "")); s.You != name {
		t.Errorf("nobody is called %s, yet a newcomer asking for it got %q (warning %+v)", name, s.You, s.Warning)
	}
}

// Eve renames herself to Ann; DynamoDB applies the record's rename but its
// answer is lost, and before the SDK's retry Eve's tab closes ($disconnect).
// The retry finds no record, so setName answers not_connected and never
// releases "Eve"; the $disconnect removed a record called Ann and released
// Ann. The room is told "Ann left" about somebody it knows as Eve, and the
// name Eve stays claimed by a connection that no longer exists.
func TestARenameRetriedAcrossADisconnectFreesBothNamesAndTellsTheRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	eve, bob := h.Join("Eve", ""), h.Join("Bob", "")
	h.Settle() // Bob's page lists both and the index Bob (joined under AWSLike's lag) before the rename
	p := newPage(state(t, h, bob).Members)
	var fired atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: func(w ddbproxy.Write) bool {
		if w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"UpdateExpression":"SET #name = :name`)) &&
			fired.CompareAndSwap(false, true) {
			h.Disconnect(eve) // between the applied rename and its retry
			return true
		}
		return false
	}})
	h.Send(eve, `{"action":"setName","name":"Ann"}`)
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("the rename was never made")
	}
	seesRoomAsItIs(t, h, p, bob)
	nameIsFree(t, h, "Eve")
	nameIsFree(t, h, "Ann")
}

// Alice renames herself to Ann while her phone reconnects with the resume
// token: the record's rename lands, then the reconnect takes "Alice" back
// (and removes the old record, now called Ann) before the rename releases
// "Alice". The rename still announces "Alice is now Ann" after the room was
// told Alice joined: the room shows an Ann who is not there (nobody ever
// tells it Ann left), and the name Ann stays claimed by the removed
// connection.
func TestAResumeDuringARenameLeavesNoGhostAndFreesTheNewName(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	h.Settle() // Bob's page lists both and the index Bob (joined under AWSLike's lag) before the rename
	token := state(t, h, alice).Resume
	p := newPage(state(t, h, bob).Members)
	var again string
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		// Just before the rename releases "Alice".
		if again == "" && w.Op == "DeleteItem" && bytes.Contains(w.Body, []byte(`"n#lobby#alice"`)) {
			again = "connecting"
			h.GW.Vanish(alice) // the phone's network dropped; it reconnects
			again, _ = h.Connect(map[string]string{"name": "Alice", "resume": token})
		}
	}})
	h.Send(alice, `{"action":"setName","name":"Ann"}`)
	h.DynamoDB.Restore()
	if again == "" || again == "connecting" {
		t.Fatal("the rename never released Alice, or the reconnect failed")
	}
	if s := state(t, h, again); s.You != "Alice" {
		t.Fatalf("the reconnect is %q, want Alice", s.You)
	}
	seesRoomAsItIs(t, h, p, bob)
	if last := lastPresence(t, h, "lobby", "Alice"); last != "" {
		t.Errorf("Alice is connected, yet the newest presence record for the name says %s", last)
	}
	nameIsFree(t, h, "Ann")
}

// A $connect whose connection record DynamoDB wrote, but whose every
// attempt was answered with an error: the $connect fails (API Gateway
// refuses the client) and releases the name, yet the record stays. The
// room lists a second "Alice" as soon as somebody else takes the name, and
// once the record is old enough a broadcast removes it as stale: the room
// is told "Alice left (connection lost)" while Alice is connected.
func TestAConnectionRecordWrittenThenFailedLeavesNoGhost(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	bob := h.Join("Bob", "")
	h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: func(w ddbproxy.Write) bool {
		// Every attempt of Alice's connection record, until the SDK gives up.
		return w.Op == "TransactWriteItems" && bytes.Contains(w.Body, []byte(`"connectedAt"`)) && bytes.Contains(w.Body, []byte(`"Alice"`))
	}})
	if _, resp := h.Connect(map[string]string{"name": "Alice"}); resp.StatusCode != 500 {
		t.Fatalf("the failing $connect answered %d", resp.StatusCode)
	}
	h.DynamoDB.Restore()
	carol := h.Join("Alice", "")
	if s := state(t, h, carol); s.You != "Alice" {
		t.Fatalf("the newcomer is %q", s.You)
	}
	h.Settle() // the index shows the newcomer, joined under AWSLike's lag
	if m := state(t, h, bob).Members; countOf(m, "Alice") != 1 {
		t.Errorf("members = %v; want Alice once (only the newcomer is connected)", m)
	}
	h.Advance(time.Minute)
	h.GW.Take(bob)
	h.Send(bob, `{"action":"sendPublic","message":"hi"}`)
	for _, f := range inbox(t, h, bob) {
		if (f.Type == "left" && f.Name == "Alice") || (f.Type == "members" && slices.Contains(f.Gone, "Alice")) {
			t.Errorf("Bob was told Alice left (%s), yet she is connected", f.Type)
		}
	}
	if last := lastPresence(t, h, "lobby", "Alice"); last != "" {
		t.Errorf("Alice is connected, yet the newest presence record for the name says %s", last)
	}
}

// A $disconnect whose mark DynamoDB applied but answered with errors until
// the SDK gave up: DeleteConnection reports an error and ok=false, and the
// $disconnect stops. The record stays marked: no later remover will ever
// "get" it (each finds it marked by another and only deletes it), so the
// room is never told Alice left, the log never balances, and her name stays
// claimed by a connection without a record.
func TestADisconnectWhoseMarkWasAppliedThenFailedStillTellsTheRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	h.Settle() // Bob's page lists both and the index Bob (joined under AWSLike's lag) before Alice leaves
	p := newPage(state(t, h, bob).Members)
	h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: func(w ddbproxy.Write) bool {
		return w.Op == "UpdateItem" && touches(w, alice) && bytes.Contains(w.Body, []byte(`SET #gone`))
	}})
	h.Disconnect(alice)
	h.DynamoDB.Restore()
	// A later broadcast reaches the marked record (410) and finishes it.
	h.Advance(time.Minute)
	h.Send(bob, `{"action":"sendPublic","message":"anyone?"}`)
	seesRoomAsItIs(t, h, p, bob)
	balanced(t, h, "lobby")
}

// Alice's $disconnect releases her name; DynamoDB applies the delete but
// answers 500, and before the SDK's retry a newcomer (no resume token) takes
// "Alice". The retry's condition fails, the claim read finds it "held by
// another", and the $disconnect takes that for a resume: no "left" is
// sent, and the log says the newcomer resumed Alice's connection.
func TestAReleaseRetriedAfterANewcomerTookTheNameIsNoResume(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	h.Settle() // the index lists Bob (joined under AWSLike's lag), so he is told Alice left
	h.GW.Take(bob)
	var fired atomic.Bool
	var carol string
	h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: func(w ddbproxy.Write) bool {
		if w.Op == "DeleteItem" && bytes.Contains(w.Body, []byte(`"n#lobby#alice"`)) && fired.CompareAndSwap(false, true) {
			carol = h.Join("Alice", "") // someone else, without Alice's token
			return true
		}
		return false
	}})
	h.Disconnect(alice)
	h.DynamoDB.Restore()
	if carol == "" {
		t.Fatal("the $disconnect never released Alice")
	}
	var left bool
	for _, f := range inbox(t, h, bob) {
		left = left || (f.Type == "left" && f.Name == "Alice")
	}
	if !left {
		t.Error("Bob was never told the first Alice left; a stranger took her name and he was told only that Alice joined")
	}
	for _, r := range activityLog(t, h, "lobby") {
		if r.Kind == chat.KindReplaced {
			t.Errorf("the log says %s was replaced by %s (%s), yet the newcomer had no resume token", r.ConnID, r.ReplacedBy, r.Reason)
		}
	}
}

// Two setNames of one connection: Eve→Ann and Eve→eve (a change of case).
// The first runs whole (claims Ann, renames, releases "Eve") just before
// the second claims "eve": the claim is free, so the second takes it, its
// rename then fails (the record is Ann), and, the name being "the same" as
// the old one, it keeps the claim. Nobody is called Eve, yet the name is
// taken.
func TestACaseOnlyRenameLosingToAnotherFreesTheOldName(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	eve := h.Join("Eve", "")
	var fired atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		if w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"n#lobby#eve"`)) && bytes.Contains(w.Body, []byte(`SET #prev`)) &&
			fired.CompareAndSwap(false, true) {
			h.Send(eve, `{"action":"setName","name":"Ann"}`)
		}
	}})
	h.Send(eve, `{"action":"setName","name":"eve"}`)
	h.DynamoDB.Restore()
	if s := state(t, h, eve); s.You != "Ann" {
		t.Fatalf("Eve is %q, want Ann", s.You)
	}
	nameIsFree(t, h, "Eve")
}
