package chat_test

// Failures the randomized checker found, each made deterministic through
// the proxy's hooks, and each fixed: they run in every go test (an
// invariant the handler breaks again goes back into knownFailures,
// checker_faults_test.go, with a test here that shows it).

import (
	"bytes"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Found by the randomized checker (activity-balance, seed 243525468702575):
// Alice closes her tab; DynamoDB applies her $disconnect's mark and answers
// 500, and before the SDK's retry a message of Bob's meets her closed
// connection (410) and finishes the removal it finds marked. The retry then
// finds no record: neither call says it removed her, so the room is never
// told she left and the log never records her end.
func TestADisconnectWhoseRemovalABroadcastFinishedStillTellsTheRoom(t *testing.T) {
	t.Parallel()
	for _, signedIn := range []bool{false, true} {
		t.Run(map[bool]string{false: "without sign-in", true: "with sign-in"}[signedIn], func(t *testing.T) {
			t.Parallel()
			var h *chattest.Harness
			var alice, bob string
			if signedIn {
				h = chattest.New(t, chattest.SignedIn)
				alice, bob = h.JoinAs("alice", ""), h.JoinAs("bob", "")
			} else {
				h = chattest.New(t)
				alice, bob = h.Join("Alice", ""), h.Join("Bob", "")
			}
			h.Settle()
			var p chattest.Page
			if err := p.Apply([]byte(h.Send(bob, `{"action":"hello"}`))); err != nil {
				t.Fatal(err)
			}
			var fired atomic.Bool
			h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: func(w ddbproxy.Write) bool {
				if w.Op == "UpdateItem" && touches(w, alice) && bytes.Contains(w.Body, []byte(`SET #gone`)) && fired.CompareAndSwap(false, true) {
					h.Send(bob, `{"action":"sendPublic","message":"still there?"}`)
					return true
				}
				return false
			}})
			h.Disconnect(alice)
			h.DynamoDB.Restore()
			if !fired.Load() {
				t.Fatal("the $disconnect never marked Alice's record")
			}
			for _, raw := range h.GW.Take(bob) {
				if err := p.Apply(raw); err != nil {
					t.Fatal(err)
				}
			}
			if got := p.Names(); len(got) != 1 {
				t.Errorf("Bob's page shows %v; Alice has left", got)
			}
			balanced(t, h, "lobby")
		})
	}
}

// Found by the randomized checker (page-members, seed 95697575721712):
// Alice renames herself to Ann, and the rename's broadcast meets Carol's
// vanished connection (410). The members frame sent after Carol's removal
// is the room index's list, which still has Alice under her old name (the
// index lags), stamped after the rename: every page, following the frames
// as the web page does, brought Alice back and dropped Ann. The frame now
// stamps Carol's leaving (left), and the page follows that, not the list.
func TestAMemberListAfterAStaleRemovalDoesNotUndoARenameJustBefore(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	carol := h.Join("Carol", "")
	h.Settle()
	var p chattest.Page
	if err := p.Apply([]byte(h.Send(bob, `{"action":"hello"}`))); err != nil {
		t.Fatal(err)
	}
	h.GW.Take(bob)
	h.GW.Vanish(carol) // her network dropped: no $disconnect
	h.Advance(time.Minute)
	// Writes from now on reach the index a minute late.
	h.DynamoDB.Inject(ddbproxy.Faults{IndexLag: time.Minute})
	h.Send(alice, `{"action":"setName","name":"Ann"}`)
	h.DynamoDB.Restore()
	for _, raw := range h.GW.Take(bob) {
		if err := p.Apply(raw); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := p.Names(), []string{"Ann", "Bob"}; !slices.Equal(got, want) {
		t.Errorf("Bob's page shows %v; the room is %v", got, want)
	}
}

// Found by the randomized checker (page-count, seed 76370856017563): with
// sign-in, a second tab of someone already in the room was counted (the
// count counted connections) but announced to nobody (joined is for the
// account's first connection), so every page kept the count it had: Bob's
// said 2 while the room had 3 connections. Now the room counts people
// (issue 22): the second tab changes neither the count nor the list, and
// every page keeps 2, when it opens and when it closes.
func TestASecondTabOfSomeoneInTheRoomIsCountedOnEveryPage(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	h.JoinAs("alice", "")
	bob := h.JoinAs("bob", "")
	h.Settle()
	var p chattest.Page
	if err := p.Apply([]byte(h.Send(bob, `{"action":"hello"}`))); err != nil {
		t.Fatal(err)
	}
	laptop := h.JoinAs("alice", "") // besides her phone
	follow := func(want int) {
		t.Helper()
		for _, raw := range h.GW.Take(bob) {
			if err := p.Apply(raw); err != nil {
				t.Fatal(err)
			}
		}
		if n, _ := p.Count(); n != want {
			t.Errorf("Bob's page counts %d; the room has %d people", n, want)
		}
		if got := p.Names(); !slices.Equal(got, []string{"alice", "bob"}) {
			t.Errorf("Bob's page shows %v; the room is alice and bob", got)
		}
	}
	follow(2)
	h.Disconnect(laptop)
	follow(2)
}

// Found by the randomized checker (page-count, seed 105301393405897): Dave
// connects while the room index lags, so Carol's left, a moment later, is
// not sent to him (the index does not list him yet). His settle hello
// fixes his list, but the page keeps its state's count over the settle's:
// it says 4 in a room of 3 until the next pong.
func TestANewcomersCountFollowsALeaveItWasNotToldOf(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	h.Join("Alice", "")
	h.Join("Bob", "")
	carol := h.Join("Carol", "")
	h.Settle() // the index lists the three (joined under AWSLike's lag) before it stops
	h.DynamoDB.Inject(ddbproxy.Faults{IndexLag: time.Minute})
	dave := h.Join("Dave", "")
	var p chattest.Page
	if err := p.Apply([]byte(h.Send(dave, `{"action":"hello"}`))); err != nil {
		t.Fatal(err)
	}
	h.Disconnect(carol)
	for _, raw := range h.GW.Take(dave) {
		if err := p.Apply(raw); err != nil {
			t.Fatal(err)
		}
	}
	h.DynamoDB.Restore() // back to AWSLike's lag: the index catches up
	h.Settle()           // by the settle hello
	if err := p.Settle([]byte(h.Send(dave, `{"action":"hello"}`))); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Names(), []string{"Alice", "Bob", "Dave"}; !slices.Equal(got, want) {
		t.Errorf("Dave's page shows %v; the room is %v", got, want)
	}
	if n, _ := p.Count(); n != 3 {
		t.Errorf("Dave's page counts %d; the room has 3 connections", n)
	}
}

// Found by the randomized checker (page-count, counts of different people's
// frames): Alice leaves while Carol joins. Alice's $disconnect tells the
// room before it deletes her record, so it says 1 (Bob alone); Carol's
// $connect, between the two, counts Alice's record still and says 3; the
// room ends with 2, and Bob's page, following the frames as the web page
// does, said 3 for good. (Alice and Carol join while the room index lags,
// so no broadcast meets Alice's closed connection and finishes her
// removal, which would tell the room again.)
func TestBobsCountFollowsALeaveAndAJoinAtOnce(t *testing.T) {
	t.Parallel()
	for _, signedIn := range []bool{false, true} {
		t.Run(map[bool]string{false: "without sign-in", true: "with sign-in"}[signedIn], func(t *testing.T) {
			t.Parallel()
			var h *chattest.Harness
			join := func(name string) string { return h.Join(name, "") }
			if signedIn {
				h = chattest.New(t, chattest.SignedIn)
				join = func(name string) string { return h.JoinAs(name, "") }
			} else {
				h = chattest.New(t)
			}
			bob := join("bob")
			h.Settle()
			var p chattest.Page
			if err := p.Apply([]byte(h.Send(bob, `{"action":"hello"}`))); err != nil {
				t.Fatal(err)
			}
			var fired atomic.Bool
			faults := ddbproxy.Faults{IndexLag: time.Minute}
			h.DynamoDB.Inject(faults)
			alice := join("alice")
			faults.Before = func(w ddbproxy.Write) {
				if w.Op == "TransactWriteItems" && touches(w, alice) && bytes.Contains(w.Body, []byte(`"Delete"`)) &&
					fired.CompareAndSwap(false, true) {
					join("carol")
				}
			}
			h.DynamoDB.Inject(faults)
			h.Disconnect(alice)
			h.DynamoDB.Restore()
			if !fired.Load() {
				t.Fatal("Alice's $disconnect never deleted her record")
			}
			for _, raw := range h.GW.Take(bob) {
				if err := p.Apply(raw); err != nil {
					t.Fatal(err)
				}
			}
			if n, _ := p.Count(); n != 2 {
				t.Errorf("Bob's page counts %d; Bob and Carol are in the room", n)
			}
			if got := p.Names(); len(got) != 2 {
				t.Errorf("Bob's page shows %v; Bob and Carol are in the room", got)
			}
		})
	}
}
