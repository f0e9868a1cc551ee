package chat_test

// Crash points, all of them (issue 21, part 4). For every route, each
// action $default serves and the $connect authorizer (crashScenarios), in
// both modes, the scenario first runs whole and its DynamoDB requests are
// counted (N); then, for every k from 1 to N, it runs again on a fresh room
// and the invocation is killed right after its k-th request was applied, as
// a Lambda timeout or an out-of-memory kill would kill it (chattest.Cut):
// nothing after that point happens. The client then does what it would
// (retries its frame, connects again, or is gone), the room goes on (a
// minute later somebody still there speaks, so the broadcast meets every
// connection that is gone), and once the stack is quiet (every invocation
// has returned: none leaves anything running, Cut checks) the invariants
// are checked (crash_check_test.go). A new request in a route adds a crash
// point without anyone writing a test.

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// knownCrash is a crash point known to break an invariant: the bug it is.
type knownCrash struct {
	scenario  string // route/mode/what, as the subtest is named
	ks        []int  // the crash points (0: not killed); none: every one
	invariant string
	bug       string
}

var crashAll = flag.Bool("crash.all", false, "report the crash points of the skip list (crashKnown) as failures too")

// crashKnown is the skip list: crash points that break an invariant
// because of a known bug, each removable when its fix lands (the test then
// checks that point again). A point whose every violation is listed is
// skipped, naming its bugs; any other violation fails. An entry is
// {scenario, []int{k, ...}, invariant, "crash #n: what people see"}. Empty now:
// crash #1 to #4, found by this test (issue 21, part 4), are fixed, and
// every crash point keeps the invariants.
var crashKnown = []knownCrash{}

func TestEveryCrashPointKeepsTheInvariants(t *testing.T) {
	t.Parallel()
	t.Cleanup(func() { stillKnown(t) })
	eachCrashScenario(t, func(t *testing.T, sc crashScenario, name string, signed bool) {
		crashRan.Store(name, true)
		whole := runCrash(t, sc, crashMode{signed: signed}, -1)
		n := len(whole.requests)
		t.Run("k=0", func(t *testing.T) { whole.report(t, name, 0, n) })
		for k := 1; k <= n; k++ {
			t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
				t.Parallel()
				runCrash(t, sc, crashMode{signed: signed}, k).report(t, name, k, n)
			})
		}
	})
}

// eachCrashScenario runs check in a parallel subtest for each crash
// scenario in each of its modes (sign-in off, on), named
// route/mode/what.
func eachCrashScenario(t *testing.T, check func(t *testing.T, sc crashScenario, name string, signed bool)) {
	for _, sc := range crashScenarios {
		for _, mode := range []string{"open", "signed"} {
			if (mode == "open" && !sc.open) || (mode == "signed" && !sc.signed) {
				continue
			}
			name := sc.route + "/" + mode + "/" + sc.what
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				check(t, sc, name, mode == "signed")
			})
		}
	}
}

// crashRun is one run of a scenario, killed at k or not.
type crashRun struct {
	requests   []chattest.Request
	posts      []string // the connections posted to (or closed) before the kill
	atPost     bool     // killed at a post (CutAtPost), not after a request
	killed     bool
	next       string // what the killed invocation tried after its k-th request
	violations []violation
	// handed are the fan-out shards the invocation handed over (sharded).
	handed []handedShard
}

// crashMode is how a scenario runs: sign-in, and fan-out shards
// (crash_shards_test.go) with what becomes of one of them.
type crashMode struct {
	signed, sharded bool
	fault           *shardFault
	// atPost kills at the (k+1)-th post instead of after the k-th request,
	// with one delivery at a time (crash_posts_test.go).
	atPost bool
}

func runCrash(t *testing.T, sc crashScenario, mode crashMode, k int) crashRun {
	var opts []chattest.Option
	if mode.sharded {
		opts = append(opts, chattest.Sharded(crashShardSize))
	}
	if mode.atPost {
		opts = append(opts, func(o *chat.Options) { o.PoolSize = 1 })
	}
	r := newCrashRoom(t, mode.signed, opts...)
	invoke, after := sc.start(r)
	from := r.readyShards(mode.fault)
	var crash *chattest.Crash
	if mode.atPost {
		crash = r.h.CutAtPost(k, invoke)
	} else {
		crash = r.h.Cut(k, invoke)
	}
	handed := r.handedOver(from)
	killed, next := crash.Killed()
	after(killed)
	for _, late := range crash.Late() {
		r.problem("after-the-kill", "the handler acted after it was killed: %s", late)
	}
	r.goOn()
	return crashRun{requests: crash.Requests(), posts: crash.Posts(), atPost: mode.atPost, killed: killed, next: next,
		violations: r.check(), handed: r.firstAttempts(handed)}
}

// report fails the test with every violation not on the skip list, each
// as a bug report, or skips it when all are known.
func (run crashRun) report(t *testing.T, scenario string, k, n int) {
	t.Helper()
	parts := strings.SplitN(scenario, "/", 3) // route, mode, what
	mode := map[string]string{"open": "sign-in off", "signed": "sign-in on"}[parts[1]]
	where := fmt.Sprintf("route %s, %s, %s: not killed (%d DynamoDB requests: %s)", parts[0], mode, parts[2], n,
		describeAll(run.requests))
	switch {
	case run.atPost:
		where = fmt.Sprintf("route %s, %s, %s: p=%d of %d, one delivery at a time, killed at post %d, after posts to %v",
			parts[0], mode, parts[2], k, n, k+1, run.posts)
	case k > 0:
		where = fmt.Sprintf("route %s, %s, %s: k=%d of %d, killed right after request %d, %s", parts[0], mode, parts[2],
			k, n, k, run.requests[len(run.requests)-1])
	}
	if run.atPost || k > 0 {
		if run.killed {
			where += "; the kill stopped " + run.next
		} else {
			where += "; it did less this time, so it was not killed"
		}
	}
	var known, unknown []string
	key := scenario
	if run.atPost {
		key = atPostKey + scenario
	}
	for _, v := range run.violations {
		if bug := knownBug(key, k, v.invariant); bug != "" && !*crashAll {
			known = append(known, fmt.Sprintf("%s [%s]", v, bug))
		} else {
			unknown = append(unknown, v.String())
		}
	}
	for _, u := range unknown {
		t.Errorf("crash point: %s:\n\tinvariant %s", where, u)
	}
	if len(known) > 0 {
		if len(unknown) == 0 {
			t.Skipf("known failures at %s:\n\t%s", where, strings.Join(known, "\n\t"))
		}
		t.Logf("known failures too:\n\t%s", strings.Join(known, "\n\t"))
	}
}

func knownBug(scenario string, k int, invariant string) string {
	for i, kc := range crashKnown {
		if kc.scenario == scenario && kc.invariant == invariant && (len(kc.ks) == 0 || slices.Contains(kc.ks, k)) {
			crashSeen.Store(fmt.Sprint(i, k), true)
			return kc.bug
		}
	}
	return ""
}

var crashRan, crashSeen sync.Map

// stillKnown logs the skip list's crash points that did not fail in this
// run: their fix has landed, and their entries can go.
func stillKnown(t *testing.T) {
	var gone []string
	for i, kc := range crashKnown {
		if _, ran := crashRan.Load(kc.scenario); !ran {
			continue
		}
		for _, k := range kc.ks {
			if _, seen := crashSeen.Load(fmt.Sprint(i, k)); !seen {
				gone = append(gone, fmt.Sprintf("%s k=%d %s (%s)", kc.scenario, k, kc.invariant, kc.bug[:strings.Index(kc.bug, ":")]))
			}
		}
	}
	if len(gone) > 0 {
		t.Logf("crashKnown lists crash points that passed this time; once their fix has landed, remove them:\n\t%s",
			strings.Join(gone, "\n\t"))
	}
}

func describeAll(rs []chattest.Request) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%d. %s", i+1, r)
	}
	return strings.Join(out, "; ")
}

// The kill reaches into the middle of the handler; this is a guard that the
// enumeration itself works: a sendPublic makes requests, and killing it at
// its first leaves the message unsent until the client's retry.
func TestACrashPointIsEnumeratedAndKillsTheInvocation(t *testing.T) {
	t.Parallel()
	sc := crashScenarios[slices.IndexFunc(crashScenarios, func(s crashScenario) bool { return s.what == "alice-says-hi" })]
	r := newCrashRoom(t, false)
	invoke, _ := sc.start(r)
	crash := r.h.Cut(1, invoke)
	if killed, next := crash.Killed(); !killed || len(crash.Requests()) != 1 || crash.Posts() != nil {
		t.Fatalf("killed %v (next %q) after %v, posting to %v; want killed at its second request, no post", killed, next,
			crash.Requests(), crash.Posts())
	}
	r.drain()
	for _, c := range r.conns {
		if slices.ContainsFunc(c.frames, func(f frame) bool { return f.Type == "public" }) {
			t.Errorf("%s got the message of an invocation killed before it stored it", c)
		}
	}
}
