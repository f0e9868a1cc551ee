package chat_test

// Issue 21 hunt: failing tests of the change made for issue 21, each named
// after what a user sees, skipped until fixed.

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
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Alice's phone is in another room; her laptop connects to Bob's room. The
// phone's rename to Alicia runs whole right after the laptop's device was
// added to the account (so the rename lists the laptop, renames its record
// and tells Bob's room alice→Alicia) and before the laptop announces itself:
// the laptop's joined still carries "alice", later than the renamed, and
// Bob's page shows a name nobody has, which Mallory may then take.
func TestBobNeverSeesTheOldNameOfADeviceThatJoinedDuringARename(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob, phone := h.JoinAs("bob", ""), h.JoinAs("alice", "other")
	h.Settle()
	p := pageOf(t, h, bob)
	var armed, fired atomic.Bool
	var f ddbproxy.Faults // on top of the AWS-like defaults
	f.Before = func(w ddbproxy.Write) {
		if armed.Load() && fired.CompareAndSwap(false, true) {
			h.Send(phone, `{"action":"setName","name":"Alicia"}`)
			return
		}
		if w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"a#alice"`)) &&
			bytes.Contains(w.Body, []byte(`SET #d = :d ADD #dv :one`)) {
			armed.Store(true) // the laptop's device is being added: the next request is after it
		}
	}
	h.DynamoDB.Inject(f)
	laptop := h.JoinAs("alice", "")
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("the laptop never added its device")
	}
	h.Settle()
	for _, f := range follow(t, h, p, bob) {
		t.Logf("bob got %s %q→%q ts=%d", f.Type, f.OldName, f.Name, f.TS)
	}
	if err := p.Settle([]byte(h.Send(bob, `{"action":"hello"}`))); err != nil {
		t.Fatal(err)
	}
	follow(t, h, p, bob)
	if s := state(t, h, laptop); s.You != "Alicia" {
		t.Fatalf("the laptop says it is %q", s.You)
	}
	if names := p.Names(); slices.Contains(names, "alice") || !slices.Contains(names, "Alicia") {
		t.Errorf("Bob's page shows %q with alice's only device in his room named Alicia", names)
	}
}

// Alice closes her laptop in Bob's room while her phone (in another room)
// renames her Alicia: the laptop's record is already marked, so the rename
// skips it and releases "alice"; Mallory, in Bob's room, takes "alice" at
// once. The laptop's $disconnect then announces left "alice" (the name its
// mark read) with a later ts than Mallory's rename: Bob's page drops
// Mallory, who is still in the room under that name.
func TestBobStillSeesMalloryAfterSheTookTheNameOfSomeoneLeaving(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob, laptop, mallory := h.JoinAs("bob", ""), joinNamed(t, h, "alice", ""), h.JoinAs("mallory", "")
	phone := joinNamed(t, h, "alice", "other")
	h.Settle()
	p := pageOf(t, h, bob)
	var fired atomic.Bool
	var f ddbproxy.Faults // on top of the AWS-like defaults
	f.Before = func(w ddbproxy.Write) {
		if w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"a#alice"`)) &&
			bytes.Contains(w.Body, []byte(`SET #l = :one`)) && fired.CompareAndSwap(false, true) {
			h.Send(phone, `{"action":"setName","name":"Alicia"}`)
			h.Send(mallory, `{"action":"setName","name":"alice"}`)
		}
	}
	h.DynamoDB.Inject(f)
	h.GW.Vanish(laptop)
	h.Disconnect(laptop)
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("the laptop's device was never marked leaving")
	}
	if s := state(t, h, mallory); s.You != "alice" {
		t.Fatalf("mallory could not take alice: she is %q", s.You)
	}
	h.Settle()
	for _, f := range follow(t, h, p, bob) {
		t.Logf("bob got %s %q→%q ts=%d account=%s", f.Type, f.OldName, f.Name, f.TS, f.Account)
	}
	if err := p.Settle([]byte(h.Send(bob, `{"action":"hello"}`))); err != nil {
		t.Fatal(err)
	}
	follow(t, h, p, bob)
	if names := p.Names(); !slices.Contains(names, "alice") {
		t.Errorf("Bob's page shows %q: mallory, in his room as alice, is missing", names)
	}
}

// addDeviceAt is the number of DynamoDB requests a first $connect of account
// makes up to and including the one adding its device (on a throwaway
// harness: the same requests in the same order).
func addDeviceAt(t *testing.T, account string) int {
	t.Helper()
	h := chattest.New(t, chattest.SignedIn)
	h.JoinAs("bob", "")
	c := h.Cut(-1, func(ctx context.Context) {
		id := chattest.NewConnID()
		h.SignIn(id, account, account)
		h.Invoke(ctx, id, contract.RouteConnect, "", map[string]string{})
	})
	for i, r := range c.Requests() {
		if r.Op == "UpdateItem" && strings.Contains(r.Key, "a#"+account) && strings.Contains(r.Key, "SET #d = :d") {
			return i + 1
		}
	}
	t.Fatalf("no device added in %v", c.Requests())
	return 0
}

// Alice's first $connect to Bob's room is killed (a timeout, the instance
// lost) right after its device was added to her account and before the
// room was told: API Gateway refuses that connection and never sends its
// $disconnect. Her page connects again at once; that $connect sees the dead
// connection's device in the room and announces nothing. Bob is never told
// she joined, though she is there and can write to him.
func TestBobIsToldAliceJoinedWhenHerFirstConnectDiedAndSheRetried(t *testing.T) {
	t.Parallel()
	k := addDeviceAt(t, "alice")
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "")
	h.Settle()
	p := pageOf(t, h, bob)
	dead := chattest.NewConnID()
	h.SignIn(dead, "alice", "alice")
	crash := h.Cut(k, func(ctx context.Context) {
		h.Invoke(ctx, dead, contract.RouteConnect, "", map[string]string{})
	})
	if killed, after := crash.Killed(); !killed || !strings.Contains(crash.Requests()[k-1].Key, "SET #d = :d") {
		t.Fatalf("the $connect was not killed right after adding its device: killed %v before %s, requests %v", killed, after, crash.Requests())
	}
	alice := h.JoinAs("alice", "") // the page's reconnect: a new connection
	for _, f := range follow(t, h, p, bob) {
		t.Logf("bob got %s %q ts=%d count=%v", f.Type, f.Name, f.TS, f.Count)
	}
	if names := p.Names(); !slices.Contains(names, "alice") {
		t.Errorf("Bob's page shows %q while alice is connected in his room", names)
	}
	h.Send(alice, `{"action":"sendPublic","message":"hi Bob"}`)
	for _, f := range follow(t, h, p, bob) {
		t.Logf("then bob got %s %q ts=%d count=%v", f.Type, f.Name, f.TS, f.Count)
	}
	if names := p.Names(); !slices.Contains(names, "alice") {
		t.Errorf("after alice wrote to the room, Bob's page still shows %q", names)
	}
	h.Settle()
	h.Advance(time.Minute) // past StaleGrace: the dead connection's next 410 removes it
	h.Send(alice, `{"action":"sendPublic","message":"still here"}`)
	for _, f := range follow(t, h, p, bob) {
		t.Logf("a minute later bob got %s %q members=%v ts=%d count=%v", f.Type, f.Name, f.Members, f.TS, f.Count)
	}
	t.Logf("a minute later Bob's page shows %q", p.Names())
}

// renameLandsAt is the number of DynamoDB requests alice's setName Alicia
// makes up to and including the one that renames her account, on a
// throwaway harness set up as setup does.
func renameLandsAt(t *testing.T, setup func(h *chattest.Harness) (bob, alice string)) int {
	t.Helper()
	h := chattest.New(t, chattest.SignedIn)
	_, alice := setup(h)
	c := h.Cut(-1, func(ctx context.Context) { h.SendCtx(ctx, alice, `{"action":"setName","name":"Alicia"}`) })
	for i, r := range c.Requests() {
		if r.Op == "UpdateItem" && strings.Contains(r.Key, "pk=a#alice") && strings.Contains(r.Key, "SET #name = :name") {
			return i + 1
		}
	}
	t.Fatalf("the account was never renamed in %v", c.Requests())
	return 0
}

// Alice renames herself Alicia; the invocation dies right after her
// account took the new name, before her connection was renamed or the
// room told. The page does not send the rename again (app.ts: a rename
// that may not have arrived is discarded; the user picks a name again, or
// not). Alice stays connected and quiet. Bob's list still shows "alice",
// and his private message to "alice" is refused: nobody called alice is in
// the room.
func TestBobCanWriteToAliceAsHisListShowsHerAfterHerRenameDied(t *testing.T) {
	t.Parallel()
	setup := func(h *chattest.Harness) (string, string) {
		bob, alice := h.JoinAs("bob", ""), h.JoinAs("alice", "")
		h.Settle()
		return bob, alice
	}
	k := renameLandsAt(t, setup)
	h := chattest.New(t, chattest.SignedIn)
	bob, alice := setup(h)
	p := pageOf(t, h, bob)
	crash := h.Cut(k, func(ctx context.Context) { h.SendCtx(ctx, alice, `{"action":"setName","name":"Alicia"}`) })
	if killed, _ := crash.Killed(); !killed {
		t.Fatalf("the setName was not killed: %v", crash.Requests())
	}
	h.Settle()
	follow(t, h, p, bob)
	t.Logf("Bob's page shows %q", p.Names())
	resp := h.Send(bob, `{"action":"sendPrivate","to":["alice"],"message":"are you there?","ref":"b1"}`)
	for _, f := range append(follow(t, h, p, bob), decodeAll(t, resp)...) {
		if f.Type == "error" {
			t.Errorf("Bob's private message to %q, whom his page shows %q, was refused: %s %s", "alice", p.Names(), f.Code, f.Message)
		}
	}
	got := false
	for _, f := range follow(t, h, &chattest.Page{}, alice) {
		got = got || f.Type == "private"
	}
	if slices.Contains(p.Names(), "alice") && !got {
		t.Errorf("alice, shown to Bob as alice, never got his private message")
	}
}

// decodeAll decodes a route's answer, if any.
func decodeAll(t *testing.T, resp string) []frame {
	t.Helper()
	if resp == "" {
		return nil
	}
	return []frame{decode(t, []byte(resp))}
}

// Alice's $connect to Bob's room dies right after her record was put,
// before her device was added (API Gateway refuses the connection, no
// $disconnect follows); her phone is in another room. She renames herself
// Alicia (the dead record is no device of hers: it keeps "alice"), and
// Mallory, in Bob's room, takes "alice". A minute later Bob speaks: the
// dead connection answers 410, its removal finds no device of alice's left
// in the room and reports "alice" gone, and the members frame leaves out
// every member called alice: Mallory disappears from Bob's page (and is not
// even sent the frame).
func TestMalloryStaysOnBobsPageWhenADeadConnectionOfHerNamesPredecessorIsRemoved(t *testing.T) {
	t.Parallel()
	setup := func(h *chattest.Harness) (bob, phone, mallory string) {
		bob, phone, mallory = h.JoinAs("bob", ""), joinNamed(t, h, "alice", "other"), h.JoinAs("mallory", "")
		h.Settle()
		return
	}
	connect := func(h *chattest.Harness, id string) func(ctx context.Context) {
		h.SignIn(id, "alice", "alice.u")
		return func(ctx context.Context) { h.Invoke(ctx, id, contract.RouteConnect, "", map[string]string{}) }
	}
	k := func() int {
		h := chattest.New(t, chattest.SignedIn)
		setup(h)
		c := h.Cut(-1, connect(h, chattest.NewConnID()))
		for i, r := range c.Requests() {
			if r.Op == "TransactWriteItems" && strings.Contains(r.Key, "Put Connections pk=c#") {
				return i + 1
			}
		}
		t.Fatalf("no record put in %v", c.Requests())
		return 0
	}()
	h := chattest.New(t, chattest.SignedIn)
	bob, phone, mallory := setup(h)
	p := pageOf(t, h, bob)
	if killed, _ := h.Cut(k, connect(h, chattest.NewConnID())).Killed(); !killed {
		t.Fatal("the $connect was not killed")
	}
	h.Send(phone, `{"action":"setName","name":"Alicia"}`)
	h.Send(mallory, `{"action":"setName","name":"alice"}`)
	if s := state(t, h, mallory); s.You != "alice" {
		t.Fatalf("mallory could not take alice: she is %q", s.You)
	}
	follow(t, h, p, bob)
	if names := p.Names(); !slices.Contains(names, "alice") {
		t.Fatalf("Bob's page shows %q right after mallory became alice", names)
	}
	h.Settle()
	h.Advance(time.Minute) // past StaleGrace
	h.Send(bob, `{"action":"sendPublic","message":"anyone?"}`)
	for _, f := range follow(t, h, p, bob) {
		t.Logf("bob got %s members=%v gone=%v ts=%d", f.Type, f.Members, f.Gone, f.TS)
	}
	if names := p.Names(); !slices.Contains(names, "alice") {
		t.Errorf("Bob's page shows %q: mallory, in his room as alice, is gone from it", names)
	}
}

// Alice opens two tabs on Bob's room at once. The first tab's AddDevice is
// applied but answered with a 500 (DynamoDB may), and the second tab's
// $connect runs whole before the SDK's retry: the second sees the first's
// device and announces nothing; the retry then returns both devices, and
// the first announces nothing either. Bob is never told alice joined.
func TestBobIsToldAliceJoinedWhenHerTwoTabsOpenTogetherAndAWriteIsAnsweredLate(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "")
	h.Settle()
	p := pageOf(t, h, bob)
	var fired atomic.Bool
	var tab2 string
	var f ddbproxy.Faults // on top of the AWS-like defaults
	f.ApplyThenFail = func(w ddbproxy.Write) bool {
		if w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"a#alice"`)) &&
			bytes.Contains(w.Body, []byte(`SET #d = :d ADD #dv :one`)) && fired.CompareAndSwap(false, true) {
			tab2 = h.JoinAs("alice", "") // runs whole before the first tab's retry
			return true
		}
		return false
	}
	h.DynamoDB.Inject(f)
	tab1 := h.JoinAs("alice", "")
	h.DynamoDB.Restore()
	if !fired.Load() || tab2 == "" {
		t.Fatal("the first tab's device was never added")
	}
	_ = tab1
	h.Settle()
	for _, f := range follow(t, h, p, bob) {
		t.Logf("bob got %s %q count=%v", f.Type, f.Name, f.Count)
	}
	if names := p.Names(); !slices.Contains(names, "alice") {
		t.Errorf("Bob's page shows %q with alice connected twice in his room", names)
	}
}

// Alice's laptop is in Bob's room, her phone in another. The phone renames
// her Alicia: the laptop's record is renamed, and before the rename tells
// the rooms, the laptop closes: its $disconnect announces left "Alicia".
// The renamed alice→Alicia frame follows, with a later ts: Bob's page shows
// Alicia, who is not in the room any more, for good.
func TestBobDoesNotSeeAliceBackAfterSheLeftDuringHerRename(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob, laptop, phone := h.JoinAs("bob", ""), h.JoinAs("alice", ""), h.JoinAs("alice", "other")
	h.Settle()
	p := pageOf(t, h, bob)
	var fired atomic.Bool
	var f ddbproxy.Faults // on top of the AWS-like defaults
	f.Before = func(w ddbproxy.Write) {
		if w.Op == "PutItem" && bytes.Contains(w.Body, []byte(`"kind":{"S":"renamed"}`)) && fired.CompareAndSwap(false, true) {
			h.GW.Vanish(laptop)
			h.Disconnect(laptop) // the laptop's record already carries Alicia
		}
	}
	h.DynamoDB.Inject(f)
	h.Send(phone, `{"action":"setName","name":"Alicia"}`)
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("the rename never recorded its renamed")
	}
	h.Settle()
	for _, f := range follow(t, h, p, bob) {
		t.Logf("bob got %s %q→%q ts=%d members=%v", f.Type, f.OldName, f.Name, f.TS, f.Members)
	}
	if names := p.Names(); slices.Contains(names, "Alicia") || slices.Contains(names, "alice") {
		t.Errorf("Bob's page shows %q after alice's only device in his room closed", names)
	}
}

// Alice renames herself Yara and at once Zoe, from her phone (in another
// room); her laptop is in Bob's room. The first rename has renamed both
// records and told the phone's room when the second runs whole (Yara→Zoe,
// told everywhere); the first then tells Bob's room alice→Yara, stamped
// later. Bob's page shows her twice, as Yara and Zoe, and Yara is free for
// anyone to take.
func TestBobSeesAliceOnceAfterTwoQuickRenames(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "")
	// The phone's id sorts first: its room is told first (finishRename
	// follows the account's devices in id order).
	id := chattest.NewConnID()
	phone, laptop := "0"+id[1:], "z"+id[1:]
	for _, c := range []struct{ id, room string }{{phone, "other"}, {laptop, "lobby"}} {
		if resp := h.ConnectAsID(c.id, "alice", "alice", map[string]string{"room": c.room}); resp.StatusCode != 200 {
			t.Fatalf("connect: %d", resp.StatusCode)
		}
	}
	h.Settle()
	p := pageOf(t, h, bob)
	var fired atomic.Bool
	var f ddbproxy.Faults // on top of the AWS-like defaults
	f.Before = func(w ddbproxy.Write) {
		if w.Op == "PutItem" && bytes.Contains(w.Body, []byte(`"kind":{"S":"renamed"}`)) &&
			bytes.Contains(w.Body, []byte(`activity#other`)) && fired.CompareAndSwap(false, true) {
			h.Send(phone, `{"action":"setName","name":"Zoe"}`)
		}
	}
	h.DynamoDB.Inject(f)
	h.Send(phone, `{"action":"setName","name":"Yara"}`)
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("the first rename never told the phone's room")
	}
	h.Settle()
	for _, f := range follow(t, h, p, bob) {
		t.Logf("bob got %s %q→%q ts=%d", f.Type, f.OldName, f.Name, f.TS)
	}
	if s := state(t, h, laptop); s.You != "Zoe" {
		t.Fatalf("the laptop is %q", s.You)
	}
	if names := p.Names(); !slices.Equal(names, []string{"Zoe", "bob"}) {
		t.Errorf("Bob's page shows %q; alice's laptop, the only device in his room, is Zoe", names)
	}
}
