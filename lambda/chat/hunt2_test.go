package chat_test

// Issue 21, second hostile review: the session's changes attacked through
// the real handler on the local stack.

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

// renameRecordAt is the number of DynamoDB requests bob's setName robert
// (without sign-in) makes up to and including the one that renames his
// record (keeping the old name pending), on a throwaway harness set up as
// setup does.
func renameRecordAt(t *testing.T, setup func(h *chattest.Harness) (carol, bob string)) int {
	t.Helper()
	h := chattest.New(t)
	_, bob := setup(h)
	c := h.Cut(-1, func(ctx context.Context) { h.SendCtx(ctx, bob, `{"action":"setName","name":"robert"}`) })
	for i, r := range c.Requests() {
		if r.Op == "UpdateItem" && strings.Contains(r.Key, "SET #name = :name, #w = :w, #pn") {
			return i + 1
		}
	}
	t.Fatalf("the record was never renamed in %v", c.Requests())
	return 0
}

// Bob (no sign-in) renames himself robert; the invocation dies right after
// his record took the new name, before the room was told. Then his
// connection vanishes without a close (his laptop's lid shut). A minute
// later Carol speaks: the broadcast finds bob's connection gone and removes
// it. Carol's page, which never heard of robert, must not keep bob.
func TestCarolNoLongerSeesBobAfterHisConnectionVanishedDuringHisRename(t *testing.T) {
	t.Parallel()
	setup := func(h *chattest.Harness) (string, string) {
		carol, bob := h.Join("carol", ""), h.Join("bob", "")
		h.Settle()
		return carol, bob
	}
	k := renameRecordAt(t, setup)
	h := chattest.New(t)
	carol, bob := setup(h)
	p := pageOf(t, h, carol)
	crash := h.Cut(k, func(ctx context.Context) { h.SendCtx(ctx, bob, `{"action":"setName","name":"robert"}`) })
	if killed, _ := crash.Killed(); !killed {
		t.Fatalf("the setName was not killed: %v", crash.Requests())
	}
	follow(t, h, p, carol)
	if names := p.Names(); !slices.Equal(names, []string{"bob", "carol"}) {
		t.Fatalf("before bob vanished Carol's page shows %q", names)
	}
	h.GW.Vanish(bob)
	h.Settle()
	h.Advance(time.Minute) // past StaleGrace
	h.Send(carol, `{"action":"sendPublic","message":"anyone?"}`)
	h.Settle()
	for _, f := range follow(t, h, p, carol) {
		t.Logf("carol got %s %q→%q members=%v ts=%d", f.Type, f.OldName, f.Name, f.Members, f.TS)
	}
	if names := p.Names(); !slices.Equal(names, []string{"carol"}) {
		t.Errorf("Carol's page shows %q after bob's connection vanished and was removed", names)
	}
}

// Bob (no sign-in) renames himself robert; the invocation dies right after
// his record took the new name, before the room was told. Bob's page keeps
// its connection and only says hello and ping. Carol's page shows bob, and
// she writes to bob privately: he must get it (or her page must learn he is
// robert first), not a recipients_unknown for the name her list shows.
func TestCarolCanWriteToBobAsHerListShowsHimAfterHisRenameDied(t *testing.T) {
	t.Parallel()
	setup := func(h *chattest.Harness) (string, string) {
		carol, bob := h.Join("carol", ""), h.Join("bob", "")
		h.Settle()
		return carol, bob
	}
	k := renameRecordAt(t, setup)
	h := chattest.New(t)
	carol, bob := setup(h)
	p := pageOf(t, h, carol)
	crash := h.Cut(k, func(ctx context.Context) { h.SendCtx(ctx, bob, `{"action":"setName","name":"robert"}`) })
	if killed, _ := crash.Killed(); !killed {
		t.Fatalf("the setName was not killed: %v", crash.Requests())
	}
	h.Send(bob, `{"action":"hello"}`)
	h.Send(bob, `{"action":"ping"}`)
	h.Settle()
	follow(t, h, p, carol)
	to := p.Names()[0] // bob, or robert if Carol was told
	t.Logf("Carol's page shows %q; she writes to %q", p.Names(), to)
	resp := h.Send(carol, `{"action":"sendPrivate","to":["`+to+`"],"message":"are you there?","ref":"c1"}`)
	for _, f := range append(follow(t, h, p, carol), decodeAll(t, resp)...) {
		if f.Type == "error" {
			t.Errorf("Carol's private message to %q, whom her page shows %q, was refused: %s %s", to, p.Names(), f.Code, f.Message)
		}
	}
	got := false
	for _, f := range follow(t, h, &chattest.Page{}, bob) {
		got = got || f.Type == "private"
	}
	if !got {
		t.Errorf("bob, shown to Carol as %q, never got her private message", to)
	}
}

// Alice opens two tabs on Bob's room at once and each tab's AddDevice is
// applied but answered with a 500, the other tab's $connect running whole
// before the retry: both tabs wait for the other to tell the room, and
// both tell it (joined twice, by design). Bob's page must show her once,
// count 2 with his own and her two tabs (the room counts people), keep her when one tab closes and
// drop her when the other does.
func TestBobSeesAliceOnceWhileEitherOfHerTwoTabsIsOpenAfterBothTabsJoinedTwice(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	bob := h.JoinAs("bob", "")
	h.Settle()
	p := pageOf(t, h, bob)
	var fired atomic.Int32
	var tab2 string
	var f ddbproxy.Faults
	f.ApplyThenFail = func(w ddbproxy.Write) bool {
		if w.Op != "UpdateItem" || !bytes.Contains(w.Body, []byte(`"a#alice"`)) || !bytes.Contains(w.Body, []byte(`SET #d = :d ADD #dv :one`)) {
			return false
		}
		switch fired.Add(1) {
		case 1:
			tab2 = h.JoinAs("alice", "") // its own AddDevice fails the same way, once
			return true
		case 2:
			return true
		}
		return false
	}
	h.DynamoDB.Inject(f)
	tab1 := h.JoinAs("alice", "")
	h.DynamoDB.Restore()
	if fired.Load() < 2 || tab2 == "" {
		t.Fatal("the tabs' devices were not both added late")
	}
	h.Settle()
	fs := follow(t, h, p, bob)
	t.Logf("bob got %v", types(fs))
	if names := p.Names(); !slices.Equal(names, []string{"alice", "bob"}) {
		t.Fatalf("Bob's page shows %q with alice's two tabs open", names)
	}
	if n, _ := p.Count(); n != 2 {
		t.Errorf("Bob's page counts %d with alice's two tabs and his own (the room counts people)", n)
	}
	h.Disconnect(tab2)
	h.Settle()
	follow(t, h, p, bob)
	if names := p.Names(); !slices.Equal(names, []string{"alice", "bob"}) {
		t.Fatalf("Bob's page shows %q with alice's first tab still open", names)
	}
	h.Disconnect(tab1)
	h.Settle()
	follow(t, h, p, bob)
	if names := p.Names(); !slices.Equal(names, []string{"bob"}) {
		t.Errorf("Bob's page shows %q after alice closed both tabs", names)
	}
	if n, _ := p.Count(); n != 1 {
		t.Errorf("Bob's page counts %d alone in the room", n)
	}
}

// Alice (signed in, one tab, in Bob's room) renames herself Alicia; the
// invocation dies right after her connection's record was renamed, before
// any room was told. Then her connection vanishes without a close. A minute
// later Bob speaks: the broadcast finds her connection gone and removes it,
// her last device. Bob's page, which never heard of Alicia, must not keep
// alice (her $disconnect would have sent a left of the pending old name).
func TestBobNoLongerSeesAliceAfterHerConnectionVanishedDuringHerRename(t *testing.T) {
	t.Parallel()
	setup := func(h *chattest.Harness) (string, string) {
		bob, alice := h.JoinAs("bob", ""), h.JoinAs("alice", "")
		h.Settle()
		return bob, alice
	}
	k := func() int {
		h := chattest.New(t, chattest.SignedIn)
		_, alice := setup(h)
		c := h.Cut(-1, func(ctx context.Context) { h.SendCtx(ctx, alice, `{"action":"setName","name":"Alicia"}`) })
		for i, r := range c.Requests() {
			if r.Op == "UpdateItem" && strings.Contains(r.Key, "pk=c#") && strings.Contains(r.Key, "SET #name = :name, #nv") {
				return i + 1
			}
		}
		t.Fatalf("the record was never renamed in %v", c.Requests())
		return 0
	}()
	h := chattest.New(t, chattest.SignedIn)
	bob, alice := setup(h)
	p := pageOf(t, h, bob)
	crash := h.Cut(k, func(ctx context.Context) { h.SendCtx(ctx, alice, `{"action":"setName","name":"Alicia"}`) })
	if killed, _ := crash.Killed(); !killed {
		t.Fatalf("the setName was not killed: %v", crash.Requests())
	}
	follow(t, h, p, bob)
	if names := p.Names(); !slices.Equal(names, []string{"alice", "bob"}) {
		t.Fatalf("before alice vanished Bob's page shows %q", names)
	}
	h.GW.Vanish(alice)
	h.Settle()
	h.Advance(time.Minute) // past StaleGrace
	h.Send(bob, `{"action":"sendPublic","message":"anyone?"}`)
	h.Settle()
	for _, f := range follow(t, h, p, bob) {
		t.Logf("bob got %s %q→%q members=%v ts=%d", f.Type, f.OldName, f.Name, f.Members, f.TS)
	}
	if names := p.Names(); !slices.Equal(names, []string{"bob"}) {
		t.Errorf("Bob's page shows %q after alice's only connection vanished and was removed", names)
	}
}

// Alice's phone is in another room. Her first $connect to Bob's room is
// killed right after adding its device (never told); her page connects
// again, and that tab waits for the dead one to tell the room (told). While
// it waits, her phone renames her Alicia (the rename renames both records
// in Bob's room and tells it alice→Alicia), and Carol joins Bob's room:
// her state lists Alicia. The waiting tab then tells the room alice joined,
// the name it read before the wait. Carol's page, settled, must show Alicia
// only, never alice, a name nobody in the room has (which someone else may
// take).
func TestCarolNeverSeesTheOldNameOfATabThatWaitedWhileAliceRenamed(t *testing.T) {
	t.Parallel()
	setup := func(h *chattest.Harness) (bob, phone string) {
		bob, phone = h.JoinAs("bob", ""), h.JoinAs("alice", "other")
		h.Settle()
		return
	}
	connect := func(h *chattest.Harness, id string) func(ctx context.Context) {
		h.SignIn(id, "alice", "alice")
		return func(ctx context.Context) { h.Invoke(ctx, id, contract.RouteConnect, "", map[string]string{}) }
	}
	k := func() int {
		h := chattest.New(t, chattest.SignedIn)
		setup(h)
		c := h.Cut(-1, connect(h, chattest.NewConnID()))
		for i, r := range c.Requests() {
			if r.Op == "UpdateItem" && strings.Contains(r.Key, "a#alice") && strings.Contains(r.Key, "SET #d = :d") {
				return i + 1
			}
		}
		t.Fatalf("no device added in %v", c.Requests())
		return 0
	}()
	h := chattest.New(t, chattest.SignedIn)
	bob, phone := setup(h)
	pb := pageOf(t, h, bob)
	if killed, _ := h.Cut(k, connect(h, chattest.NewConnID())).Killed(); !killed {
		t.Fatal("the first $connect was not killed")
	}
	var armed, fired atomic.Bool
	var carol string
	var pc *chattest.Page
	var f ddbproxy.Faults
	f.Before = func(w ddbproxy.Write) {
		switch {
		case w.Op == "UpdateItem" && bytes.Contains(w.Body, []byte(`"a#alice"`)) && bytes.Contains(w.Body, []byte(`SET #d = :d`)):
			armed.Store(true) // the tab's device is added
		case w.Op == "GetItem" && bytes.Contains(w.Body, []byte(`"a#alice"`)) && armed.Load() && fired.CompareAndSwap(false, true):
			// The tab reads the account while it waits for the dead one.
			h.Send(phone, `{"action":"setName","name":"Alicia"}`)
			carol = h.JoinAs("carol", "")
			pc = pageOf(t, h, carol)
		}
	}
	h.DynamoDB.Inject(f)
	tab := h.JoinAs("alice", "")
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("the tab never read the account while waiting")
	}
	h.Settle()
	for _, fr := range follow(t, h, pc, carol) {
		t.Logf("carol got %s %q→%q ts=%d", fr.Type, fr.OldName, fr.Name, fr.TS)
	}
	follow(t, h, pb, bob)
	// Carol's page's settle hello, once the index caught up with the rename.
	if err := pc.Settle([]byte(h.Send(carol, `{"action":"hello"}`))); err != nil {
		t.Fatal(err)
	}
	if s := state(t, h, tab); s.You != "Alicia" {
		t.Errorf("the tab is %q", s.You)
	}
	if names := pc.Names(); slices.Contains(names, "alice") {
		t.Errorf("Carol's page shows %q: alice is Alicia now", names)
	}
	if names := pb.Names(); slices.Contains(names, "alice") {
		t.Errorf("Bob's page shows %q: alice is Alicia now", names)
	}
}

// Dave's $connect transaction (his record, a shard of the room's count and
// his joined in the log) is cancelled by conflicts twice, each retry on
// another shard, and then applied but answered with a 500 (the SDK retries
// it with the same token). Bob must be told once that dave joined, the
// room must count 2, and the log must hold one joined of dave's.
func TestBobIsToldOnceThatDaveJoinedWhenHisConnectConflictedOnItsShards(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	bob := h.Join("bob", "")
	h.Settle()
	p := pageOf(t, h, bob)
	var conflicts, failed atomic.Int32
	var f ddbproxy.Faults
	ours := func(w ddbproxy.Write) bool {
		return w.Op == "TransactWriteItems" && bytes.Contains(w.Body, []byte(`"dave"`)) && bytes.Contains(w.Body, []byte(`"joined"`))
	}
	f.Conflict = func(w ddbproxy.Write) bool {
		return ours(w) && w.Action == 0 && conflicts.Add(1) <= 2
	}
	f.ApplyThenFail = func(w ddbproxy.Write) bool {
		return ours(w) && conflicts.Load() >= 2 && failed.Add(1) == 1
	}
	h.DynamoDB.Inject(f)
	dave := h.Join("dave", "")
	h.DynamoDB.Restore()
	if conflicts.Load() < 2 || failed.Load() < 1 {
		t.Fatalf("dave's $connect met %d conflicts and %d late answers", conflicts.Load(), failed.Load())
	}
	h.Settle()
	fs := follow(t, h, p, bob)
	if joined := ofType(fs, "joined"); len(joined) != 1 || joined[0].Name != "dave" {
		t.Errorf("Bob was sent %v", types(fs))
	}
	if names := p.Names(); !slices.Equal(names, []string{"bob", "dave"}) {
		t.Errorf("Bob's page shows %q", names)
	}
	if n, _ := p.Count(); n != 2 {
		t.Errorf("Bob's page counts %d", n)
	}
	if s := state(t, h, dave); s.Count != 2 {
		t.Errorf("dave's state counts %v", s.Count)
	}
	n := 0
	for _, r := range activityLog(t, h, "lobby") {
		if r.Kind == chat.KindJoined && r.From == "dave" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the log holds %d joined of dave's", n)
	}
}

// Bob closes his tab; his $disconnect's delete transaction (the record, his
// count and his left in the log) is cancelled by a conflict, and before its
// retry a broadcast of Carol's, a minute on, finds his connection gone and
// finishes the removal his mark began. Carol's page must drop him and count
// 1, and the log must hold exactly one end of his connection.
func TestCarolSeesBobLeaveOnceWhenHisRemovalConflictedWhileABroadcastFinishedIt(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	carol, bob := h.Join("carol", ""), h.Join("bob", "")
	h.Settle()
	p := pageOf(t, h, carol)
	var fired atomic.Bool
	var f ddbproxy.Faults
	first := func(w ddbproxy.Write) bool {
		return w.Op == "TransactWriteItems" && touches(w, bob) && bytes.Contains(w.Body, []byte(`"Delete"`))
	}
	f.Conflict = func(w ddbproxy.Write) bool {
		if !first(w) || w.Action != 0 || !fired.CompareAndSwap(false, true) {
			return false
		}
		h.Advance(time.Minute) // past StaleGrace
		h.Send(carol, `{"action":"sendPublic","message":"still there?"}`)
		return true
	}
	h.DynamoDB.Inject(f)
	h.Disconnect(bob)
	h.DynamoDB.Restore()
	if !fired.Load() {
		t.Fatal("bob's removal never reached its delete")
	}
	h.Settle()
	fs := follow(t, h, p, carol)
	t.Logf("carol got %v", types(fs))
	if names := p.Names(); !slices.Equal(names, []string{"carol"}) {
		t.Errorf("Carol's page shows %q after bob closed his tab", names)
	}
	if n, _ := p.Count(); n != 1 {
		t.Errorf("Carol's page counts %d alone", n)
	}
	ends := 0
	for _, r := range activityLog(t, h, "lobby") {
		if r.ConnID == bob && r.Kind != chat.KindJoined {
			ends++
		}
	}
	if ends != 1 {
		t.Errorf("the log holds %d ends of bob's connection", ends)
	}
}
