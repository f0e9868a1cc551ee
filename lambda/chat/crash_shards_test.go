package chat_test

// The crash points with fan-out shards (issue 27 item 3; docs/design.md,
// Fan-out shards): the scenarios that broadcast run again with every
// broadcast sharded (a slice of one connection, so a room of three or four
// is sharded), each shard handed to chattest.Shards, which runs it as
// Lambda runs an asynchronous event: later, on an environment of its own,
// and again when that invocation was killed. Every Invoke is a crash point
// of the sender like any DynamoDB request (killed right after handing a
// shard over); and with the sender whole, the first shard to each member
// is refused (the sender delivers the slice), queued with its answer lost
// (the sender delivers it, and the shard runs too), or killed after each
// of its requests and posts in turn and retried. On top of the
// invariants of every crash point: every public message stored reaches
// every connection open from its sending to the end (no loss), a page
// receives a message's id twice only from a shard run again or whose
// answer was lost (the page keeps one: messagelog.ts), no shard carries a
// connection the room never had, none is dropped, and none acts after it
// was killed or returned.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// crashShardSize shards every broadcast of more than one connection.
const crashShardSize = 1

// shardedCrashes are the scenarios run sharded: each broadcasts (a
// message, an edit, a removal, a rename, a join, a leave); faults: the
// shards' own faults are tried too (a shard meets carol gone: its 410's
// removal is killed at each of its requests).
var shardedCrashes = []struct {
	what           string
	signed, faults bool
}{
	{"alice-says-hi", true, true}, // alice's laptop and phone, bob, carol: three shards
	{"bob-speaks-after-carol-vanished", false, true},
	{"bob-edits-his-message", false, false},
	{"bob-removes-his-message", true, false},
	{"bob-becomes-robert", false, false},
	{"dave-joins", false, false},
	{"carol-leaves", false, false},
}

func TestEveryCrashPointWithShardsKeepsTheInvariants(t *testing.T) {
	t.Parallel()
	for _, c := range shardedCrashes {
		sc := crashScenarios[slices.IndexFunc(crashScenarios, func(s crashScenario) bool { return s.what == c.what })]
		mode := map[bool]string{false: "open", true: "signed"}[c.signed]
		name := sc.route + "/" + mode + "/" + sc.what
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			whole := runCrash(t, sc, crashMode{signed: c.signed, sharded: true}, -1)
			n := len(whole.requests)
			t.Run("k=0", func(t *testing.T) { whole.report(t, name, 0, n) })
			if len(whole.handed) == 0 {
				t.Fatalf("%s handed no shard over: it tests no shard", name)
			}
			for k := 1; k <= n; k++ {
				t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
					t.Parallel()
					runCrash(t, sc, crashMode{signed: c.signed, sharded: true}, k).report(t, name, k, n)
				})
			}
			if !c.faults {
				return
			}
			for _, f := range shardFaults(whole.handed) {
				t.Run(f.String(), func(t *testing.T) {
					t.Parallel()
					runCrash(t, sc, crashMode{signed: c.signed, sharded: true, fault: &f}, -1).report(t, name+", "+f.String(), 0, n)
				})
			}
		})
	}
}

// handedShard is a shard the invocation handed over: its Invoke's number,
// the connection its slice holds (an index of crashRoom.conns, -1: none of
// the room's) and whose it is, and the requests and posts of its first
// attempt.
type handedShard struct {
	seq, conn int
	who       string
	ops       int
}

// shardFault is what becomes of the first shard the invocation hands
// over to one connection: its Invoke refused or its answer lost, or its
// first attempt killed after kill requests and posts (< 0: not killed).
type shardFault struct {
	conn   int
	who    string
	answer chattest.InvokeAnswer
	kill   int
}

func (f shardFault) String() string {
	switch f.answer {
	case chattest.InvokeRefused:
		return fmt.Sprintf("the shard to %s refused", f.who)
	case chattest.InvokeAnswerLost:
		return fmt.Sprintf("the shard to %s queued and its answer lost", f.who)
	}
	return fmt.Sprintf("the shard to %s killed after %d", f.who, f.kill)
}

// shardFaults are the faults to try, for each connection a shard was
// handed: refused, answer lost, and killed after each of its requests and
// posts (and at its return).
func shardFaults(handed []handedShard) []shardFault {
	var out []shardFault
	seen := map[int]bool{}
	for _, h := range handed {
		if h.conn < 0 || seen[h.conn] {
			continue
		}
		seen[h.conn] = true
		out = append(out, shardFault{conn: h.conn, who: h.who, answer: chattest.InvokeRefused, kill: -1},
			shardFault{conn: h.conn, who: h.who, answer: chattest.InvokeAnswerLost, kill: -1})
		for p := 0; p <= h.ops; p++ {
			out = append(out, shardFault{conn: h.conn, who: h.who, kill: p})
		}
	}
	return out
}

// readyShards runs the shards of the scenario's setup (nothing may run
// during a Cut but the invocation cut) and arms the fault; it returns how
// many Invokes came before the invocation.
func (r *crashRoom) readyShards(f *shardFault) int {
	s := r.h.Shards
	if s == nil {
		return 0
	}
	s.Run()
	from := len(s.Calls())
	if f == nil {
		return from
	}
	target := r.conns[f.conn].id
	carries := func(ev contract.ShardEvent) bool {
		return slices.ContainsFunc(ev.Members, func(m contract.ShardMember) bool { return m.ConnID == target })
	}
	var (
		mu              sync.Mutex
		invoked, killed bool
	)
	s.Invoke = func(c chattest.ShardCall) chattest.InvokeAnswer {
		mu.Lock()
		defer mu.Unlock()
		if invoked || c.Seq <= from || !carries(c.Event) {
			return chattest.InvokeAccepted
		}
		invoked = true
		return f.answer
	}
	s.Kill = func(run chattest.ShardRun) int {
		mu.Lock()
		defer mu.Unlock()
		if killed || run.Seq <= from || run.Attempt != 1 || !carries(run.Event) {
			return -1
		}
		killed = true
		return f.kill
	}
	return from
}

// handedOver lists the shards handed over since from.
func (r *crashRoom) handedOver(from int) []handedShard {
	if r.h.Shards == nil {
		return nil
	}
	var out []handedShard
	for _, c := range r.h.Shards.Calls()[from:] {
		h := handedShard{seq: c.Seq, conn: -1}
		if len(c.Event.Members) > 0 {
			h.conn = slices.IndexFunc(r.conns, func(x *crashConn) bool { return x.id == c.Event.Members[0].ConnID })
		}
		if h.conn >= 0 {
			h.who = r.conns[h.conn].person.key
			if d := r.conns[h.conn].device; d != "" {
				h.who += "'s " + d
			}
		}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b handedShard) int { return a.conn - b.conn })
	return out
}

// firstAttempts adds what each shard's first attempt did, once they ran.
func (r *crashRoom) firstAttempts(handed []handedShard) []handedShard {
	if r.h.Shards == nil {
		return nil
	}
	runs := r.h.Shards.Runs()
	for i, h := range handed {
		if j := slices.IndexFunc(runs, func(run chattest.ShardRun) bool { return run.Seq == h.seq && run.Attempt == 1 }); j >= 0 {
			handed[i].ops = len(runs[j].Ops)
		}
	}
	return handed
}

// sentPublic notes a public message a client sends, and who is there.
func (r *crashRoom) sentPublic(body string) {
	var f struct{ Action, Message string }
	if json.Unmarshal([]byte(body), &f) != nil || f.Action != contract.RouteSendPublic || f.Message == "" {
		return
	}
	if _, ok := r.publics[f.Message]; !ok {
		r.publics[f.Message] = r.inRoom()
	}
}

// shown counts a public message the connection received by its id; a
// second copy of an id is a problem unless a shard that carried it to the
// connection was run again or its Invoke's answer was lost.
func (r *crashRoom) shown(c *crashConn, f frame, raw []byte) {
	if f.Type != "public" || f.ID == "" {
		return
	}
	if c.shown == nil {
		c.shown = map[string]int{}
	}
	if c.shown[f.ID]++; c.shown[f.ID] == 1 || (r.h.Shards != nil && r.h.Shards.MayRepeat(c.id, raw)) {
		return
	}
	r.problem("public-once", "%s received %q (%s) %d times, and no shard that carried it was run again", c, f.Message, f.ID, c.shown[f.ID])
}

// checkPublics: every public message stored reached every connection open
// from its first sending to the end.
func (r *crashRoom) checkPublics(add func(string, string, ...any)) {
	recs, _, err := r.h.Store.History(context.Background(), crashRoomName, "", 50)
	if err != nil {
		r.t.Fatal(err)
	}
	for text, open := range r.publics {
		if !slices.ContainsFunc(recs, func(m chat.Record) bool { return m.Message == text }) {
			continue
		}
		for _, c := range r.conns {
			if c.open && slices.Contains(open, c.id) &&
				!slices.ContainsFunc(c.frames, func(f frame) bool { return f.Type == "public" && f.Message == text }) {
				add("public-delivery", "%q is stored, and %s, in the room from its sending to the end, never got it", text, c)
			}
		}
	}
}

// checkShards: every shard handed over ran, none was dropped or acted
// after it was killed, and each carried the room's connections only
// (those a $connect ran for).
func (r *crashRoom) checkShards(add func(string, string, ...any)) {
	s := r.h.Shards
	if s == nil {
		return
	}
	if n := s.Pending(); n > 0 {
		add("shards", "%d shard events were never run", n)
	}
	for _, d := range s.Dropped() {
		add("shards", "the shard to %s was dropped after %d attempts (%v)", r.named(members(d.Event)), d.Attempt, d.Err)
	}
	for _, late := range s.Late() {
		add("after-the-kill", "a shard's invocation acted after it was killed or returned: %s", late)
	}
	for _, c := range s.Calls() {
		for _, id := range members(c.Event) {
			_, tried := r.tried[id] // a $connect ran for it (a killed one left its record, which a broadcast meets: 410)
			if c.Event.Room != crashRoomName || !tried {
				add("shard-targets", "a shard for room %q was handed %s, no connection of the room", c.Event.Room, r.named([]string{id}))
			}
		}
	}
}

func members(ev contract.ShardEvent) []string {
	out := make([]string, len(ev.Members))
	for i, m := range ev.Members {
		out[i] = m.ConnID
	}
	return out
}
