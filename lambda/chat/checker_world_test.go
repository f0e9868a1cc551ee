package chat_test

// The randomized checker's world (checker_test.go): accounts with devices,
// each device a browser tab with its page (chattest.Page), and what the
// checker remembers to judge the run by afterwards: every connection's
// life, every frame sent and its answers, every message's deliveries, and
// who may have held each name when.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// world is one scenario: a harness, its accounts and the checker's records.
type world struct {
	t        *testing.T
	h        *chattest.Harness
	seed     uint64
	rooms    []string
	accounts []*account
	lag      time.Duration
	tally    *tally
	viol     *violations
	faults   *faultBox
	// clock is held shared by every event and alone by a clock jump, so
	// that no invocation spans a jump: a broadcast that met a connection
	// still in its $connect (410) and read the clock for the stale grace
	// after a jump would remove it, which no real clock does (a $connect
	// returns within 29 s, the grace is 30, and a broadcast does not wait
	// 30 s between a post and its removals).
	clock    sync.RWMutex
	inFlight atomic.Int64 // events being handled

	mu       sync.Mutex
	conns    map[string]*connLife      // by connection id
	answers  map[string]int            // frames answering each ref
	answer   map[string]frame          // the first answer to each ref
	got      map[string]map[string]int // message text → connection → copies received
	shown    map[string]bool           // connection id + "\x00" + public message id: the page shows it
	privates []*privateSend
	publics  map[string]string     // message text → room
	removals []*removeSend         // remove (checker_remove_test.go)
	edits    []*editSend           // edit (checker_edit_test.go)
	acts     []*moderationSend     // moderation acts (checker_moderate_test.go)
	holds    map[string][]*holding // name key → who held it when
	start    time.Time
	trace    []string // what happened, for the log file of a failing run
}

// account is one signed-in person.
type account struct {
	w        *world
	id, user string
	rng      *rand.Rand
	devices  []*device
	seq      atomic.Int64 // two tabs of the account may send at once
	named    bool         // has had its first name
	// unsure: a rename was answered internal, so the checker no longer
	// knows which names the account holds from then on.
	unsure time.Time
	tried  []string // names asked for once unsure
	// published are its public messages answered with their echo, which
	// it may remove (checker_remove_test.go); under world.mu.
	published []published
	// deleteAt is the step at which it deletes itself (0: never), steps
	// the steps it took, deleted whether it did (checker_delete_test.go).
	deleteAt, steps int
	deleted         bool
}

// device is one browser tab of an account.
type device struct {
	a    *account
	n    int
	conn *connLife // nil: not connected
	room string
	page *chattest.Page
	// settleAt is when the page sends its settle hello (the index lag has
	// passed); zero once sent.
	settleAt time.Time
	// seen is every frame the page applied since it connected (its
	// state, member-list and count frames, the settle state), each with
	// what the page showed after it: printed to the trace when the page is
	// wrong at rest, to see the interleaving.
	seen []string
}

// connLife is one connection as its client saw it: up once its $connect
// returned 200, down from when the client closed it or lost it.
type connLife struct {
	id, room string
	a        *account
	up, down time.Time
}

func (c *connLife) liveThroughout(t0, t1 time.Time) bool {
	return !c.up.IsZero() && c.up.Before(t0) && (c.down.IsZero() || c.down.After(t1))
}

// holding is an account's hold on a name: acquired within [a0, a1],
// released within [r0, r1] (zero r0: still held).
type holding struct {
	a              *account
	a0, a1, r0, r1 time.Time
}

// privateSend is a private message and what the sender was answered.
type privateSend struct {
	from   *account
	room   string
	text   string
	to     []string
	t0, t1 time.Time
	answer frame
}

func newWorld(t *testing.T, seed uint64, nAccounts, nRooms int, tl *tally) *world {
	opts := []chattest.Option{chattest.SignedIn, chattest.Unlimited}
	if shardedSeed(seed) {
		opts = append(opts, chattest.Sharded(checkerShardSize)) // checker_shards_test.go
	}
	h := chattest.New(t, opts...)
	w := &world{t: t, h: h, seed: seed, tally: tl, viol: newViolations(),
		conns: map[string]*connLife{}, answers: map[string]int{}, answer: map[string]frame{},
		got: map[string]map[string]int{}, shown: map[string]bool{}, publics: map[string]string{}, holds: map[string][]*holding{}}
	w.start = time.Now()
	rng := rand.New(rand.NewPCG(mix(seed), 0x5eed))
	for i := range nRooms {
		w.rooms = append(w.rooms, fmt.Sprintf("room%d", i+1))
	}
	w.lag = time.Duration(20+rng.IntN(60)) * time.Millisecond
	for i := range nAccounts {
		a := &account{w: w, id: fmt.Sprintf("acct-%d", i+1), user: fmt.Sprintf("user%d", i+1),
			rng: rand.New(rand.NewPCG(mix(seed), mix(uint64(i+1))))}
		for j := range 1 + rng.IntN(3) {
			a.devices = append(a.devices, &device{a: a, n: j + 1})
		}
		w.accounts = append(w.accounts, a)
	}
	w.faults = newFaultBox(w, rng.Uint64())
	if h.Shards != nil {
		w.faults.shards(h.Shards)
	}
	return w
}

// mix spreads neighbouring seeds apart (splitmix64's finalizer): the
// scenarios of one run have consecutive seeds.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// logf adds a line to the run's trace.
func (w *world) logf(format string, args ...any) {
	line := fmt.Sprintf("%7.1fms ", float64(time.Since(w.start).Microseconds())/1000) + fmt.Sprintf(format, args...)
	w.mu.Lock()
	w.trace = append(w.trace, line)
	w.mu.Unlock()
}

// saw records a frame the page applied, with what the page shows after it
// (list and count frames only).
func (d *device) saw(raw []byte) {
	switch f, _ := decodeType(raw); f {
	case "state", "joined", "left", "renamed", "members", "presence", "pong", "memberPage":
		n, _ := d.page.Count()
		d.seen = append(d.seen, fmt.Sprintf("%.600s → %v %d", raw, d.page.Names(), n))
	}
}

func decodeType(raw []byte) (string, error) {
	var head struct{ Type string }
	err := json.Unmarshal(raw, &head)
	return head.Type, err
}

func (d *device) String() string { return fmt.Sprintf("%s/tab%d", d.a.user, d.n) }

// decodeFrame reads a server frame; a frame that is not one is a violation.
func (w *world) decodeFrame(raw []byte) (frame, bool) {
	var f frame
	if err := json.Unmarshal(raw, &f); err != nil || f.Type == "" {
		w.viol.add("frame-invalid", "a server frame that is not one: %q (%v)", raw, err)
		return f, false
	}
	return f, true
}

// receive takes one frame a connection received: the page applies it,
// and answers and message copies are counted.
func (w *world) receive(d *device, c *connLife, raw []byte) {
	f, ok := w.decodeFrame(raw)
	if !ok {
		return
	}
	switch f.Type {
	case "joined", "left", "renamed", "members", "presence", "state", "error":
		w.logf("%s (%s) got %s", c.id, c.a.user, raw)
	}
	if f.Type != string(chat.KindState) && d != nil && d.conn == c {
		if err := d.page.Apply(raw); err != nil {
			w.viol.add("frame-invalid", "%v", err)
		}
		d.saw(raw)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if f.Ref != "" {
		w.answers[f.Ref]++
		if _, seen := w.answer[f.Ref]; !seen {
			w.answer[f.Ref] = f
		}
	}
	if (f.Type == "public" || f.Type == "private") && f.Message != "" {
		if f.Type == "public" && f.ID != "" {
			// A second copy of an id from a shard run again (or whose
			// Invoke's answer was lost) is dropped by the page; any other
			// is counted, and checkMessages finds it.
			key := c.id + "\x00" + f.ID
			if w.shown[key] && w.h.Shards != nil && w.h.Shards.MayRepeat(c.id, raw) {
				w.tally.repeats.Add(1)
				return
			}
			w.shown[key] = true
		}
		if w.got[f.Message] == nil {
			w.got[f.Message] = map[string]int{}
		}
		w.got[f.Message][c.id]++
	}
}

// drain takes what the device's connection was sent since the last drain.
func (w *world) drain(d *device) {
	if d.conn == nil {
		return
	}
	for _, raw := range w.h.GW.Take(d.conn.id) {
		w.receive(d, d.conn, raw)
	}
}

// event counts an event in flight while it is handled; no clock jump
// happens meanwhile.
func (w *world) event(f func()) {
	w.clock.RLock()
	defer w.clock.RUnlock()
	w.nested(f)
}

// nested is event for an event handled inside another one (a proxy hook's):
// the outer one already keeps the clock from jumping.
func (w *world) nested(f func()) {
	w.inFlight.Add(1)
	defer w.inFlight.Add(-1)
	f()
}

// send sends a frame with a fresh ref (and, for messages, that ref as the
// text, so every copy can be traced) and returns the ref and its answer.
func (w *world) send(d *device, action, fields string) (ref string, answer frame, t0, t1 time.Time) {
	return w.sendVia(w.event, d, action, fields)
}

// sendVia is send handled by ev: event, or nested for a frame sent from a
// proxy hook (checker_delete_test.go).
func (w *world) sendVia(ev func(func()), d *device, action, fields string) (ref string, answer frame, t0, t1 time.Time) {
	ref = fmt.Sprintf("%s.%d.%s.%d", d.a.user, d.n, action, d.a.seq.Add(1))
	if fields != "" {
		fields = "," + fields
	}
	body := fmt.Sprintf(`{"action":%q,"ref":%q%s}`, action, ref, fields)
	w.mu.Lock()
	w.answers[ref] = 0
	w.mu.Unlock()
	c := d.conn
	w.tally.frames.Add(1)
	t0 = time.Now()
	var resp string
	ev(func() { resp = w.h.Send(c.id, body) })
	t1 = time.Now()
	w.logf("%s (%s) sent %s", c.id, d, body)
	if resp != "" {
		w.receive(d, c, []byte(resp))
	}
	w.drain(d)
	w.mu.Lock()
	answer = w.answer[ref]
	w.mu.Unlock()
	return ref, answer, t0, t1
}

// hold records that a acquired the name within [a0, a1].
func (w *world) hold(a *account, name string, a0, a1 time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := chat.NameKey(name)
	w.holds[k] = append(w.holds[k], &holding{a: a, a0: a0, a1: a1})
}

// release records that a gave the name up within [r0, r1].
func (w *world) release(a *account, name string, r0, r1 time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, hd := range w.holds[chat.NameKey(name)] {
		if hd.a == a && hd.r0.IsZero() {
			hd.r0, hd.r1 = r0, r1
		}
	}
}

// mayHold lists the accounts that may have held name at some moment of
// [t0, t1]; must is the account that held it throughout, if the checker
// knows one.
func (w *world) mayHold(name string, t0, t1 time.Time) (may []*account, must *account) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := chat.NameKey(name)
	for _, hd := range w.holds[k] {
		if hd.a0.After(t1) || (!hd.r1.IsZero() && hd.r1.Before(t0)) {
			continue
		}
		if !slices.Contains(may, hd.a) {
			may = append(may, hd.a)
		}
		if hd.a1.Before(t0) && (hd.r0.IsZero() || hd.r0.After(t1)) && (hd.a.unsure.IsZero() || hd.a.unsure.After(t1)) {
			must = hd.a
		}
	}
	for _, a := range w.accounts {
		if !a.unsure.IsZero() && !a.unsure.After(t1) {
			for _, n := range a.tried {
				if chat.NameKey(n) == k && !slices.Contains(may, a) {
					may = append(may, a)
				}
			}
		}
	}
	if len(may) > 1 {
		must = nil // the checker cannot tell who
	}
	return may, must
}
