package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/lambdaenv"
	"github.com/groupchat/groupchat/local/lambdainvoke"
)

// postEvent makes an asynchronous Invoke of fn on srv.
func postEvent(t *testing.T, srv *lambdainvoke.Server, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.Endpoint()+"/2015-03-31/functions/fn/invocations", strings.NewReader(body))
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("Invoke: %d", resp.StatusCode)
	}
}

// A shard refused once by the function's concurrency (a throttle: no
// invocation) and then run is one shard, whose Invoke was accepted once:
// each run turns keeps of it should be accepted when the Invoke was, and
// eachAlone should count its run from then. The gate took each attempt's
// start for its acceptance, so the real run was "accepted" at its retry,
// after its sender had answered: eachAlone dropped it and timed the
// broadcast as the sender alone.
func TestTurnsHunt37KeepOneRunAcceptedAtTheInvokeForARetriedShard(t *testing.T) {
	srv, err := lambdainvoke.Start(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	srv.AsyncRetryDelay = 6 * time.Second // a throttle's first wait: 100 ms
	tr := &turns{idle: func() bool { return true }, turn: make(chan struct{}, 1)}
	srv.EventGate = tr.gate
	var (
		mu       sync.Mutex
		attempts int
	)
	done := make(chan struct{})
	srv.Register("fn", func(context.Context, json.RawMessage) (any, error) {
		mu.Lock()
		attempts++
		n := attempts
		mu.Unlock()
		if n == 1 {
			return nil, &lambdaenv.FunctionError{Type: lambdaenv.ErrorTypeThrottled, Message: "Rate Exceeded."}
		}
		time.Sleep(300 * time.Millisecond) // the shard's run: 300 ms
		close(done)
		return nil, nil
	})
	tr.start()
	senderStart := time.Now()
	postEvent(t, srv, `{}`)
	time.Sleep(20 * time.Millisecond)
	senderEnd := time.Now() // the sender answered 20 ms after its Invoke was accepted
	<-done
	runs := tr.take()
	for _, r := range runs { // the refused attempt is kept too, with the same acceptance: the later end counts
		if r.accepted.After(senderEnd) {
			t.Errorf("a run of the shard was accepted %v after its sender answered; want every attempt at the Invoke's acceptance", r.accepted.Sub(senderEnd))
		}
	}
	got := eachAlone([]span{{senderStart, senderEnd}}, runs)
	if len(got) != 1 || got[0] < 300 {
		t.Errorf("eachAlone = %v ms; want one broadcast of at least the shard's 300 ms run", got)
	}
}

// take is called by report only when turns are on, but start and stop are
// nil-safe and take is not.
func TestTurnsHunt37TakeOfNoTurns(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("take of nil turns panicked: %v", r)
		}
	}()
	var tr *turns
	tr.start()
	tr.stop()
	_ = tr.take()
}

// buildTestFn builds lambdaenv's test function (a bootstrap that sleeps
// on {"sleep": ms}).
func buildTestFn(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	out, err := exec.Command("nice", "-n", "19", "go", "build", "-o", bin, "../../local/lambdaenv/testdata/fn").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// report holds busiest's lock while turns.take waits for the event in
// turn to end; that event's invocation ends by telling busiest its report
// (the Observe callback), which takes the same lock: a shard still
// answering when report gives up waiting for Busy == 0 (10 s) deadlocks
// the benchmark.
func TestReportHunt37WhileAShardInTurnAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a test function")
	}
	bin := buildTestFn(t)
	svc, err := lambdaenv.Start(lambdaenv.Config{Bootstrap: bin, NoLimits: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := lambdainvoke.Start(0)
	if err != nil {
		t.Fatal(err)
	}
	srv.AsyncRetryDelay = time.Hour
	srv.Register("fn", func(ctx context.Context, ev json.RawMessage) (any, error) { return svc.Invoke(ctx, ev) })
	st := &localtest.Stack{Stack: &local.Stack{Lambda: srv, Environments: svc}}
	was := *inTurn
	*inTurn = true
	w := watchInvocations(st)
	*inTurn = was
	if w.turns == nil {
		t.Fatal("no turns")
	}
	w.reset()                             // the sends begin: turns on
	postEvent(t, srv, `{"sleep": 11000}`) // a shard still answering 10 s on
	for st.Environments.Stats().Busy == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	reported := make(chan struct{})
	go func() {
		once := false
		testing.Benchmark(func(b *testing.B) { // a B that may report metrics; report once
			if !once {
				once = true
				w.report(b, "@0ms")
			}
		})
		close(reported)
	}()
	select {
	case <-reported:
	case <-time.After(25 * time.Second):
		t.Errorf("report did not return 14 s after the shard's run ended: deadlocked (busiest.mu held while take waits for the turn; the shard's Observe waits for busiest.mu)")
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "(*turns).stop") || strings.Contains(g, "watchInvocations.func") {
				t.Logf("%s", g)
			}
		}
		// Leak the stuck goroutines; the environments are killed.
		_ = svc.Close()
		return
	}
	_ = srv.Close()
	_ = svc.Close()
}

// stop lets the events run at once again "once the run in turn now has
// ended": an event that queued for the turn before stop (waiting behind
// the one running) should not hold stop up, nor run in turn after it.
// The turn channel is FIFO, so stop waits behind every event queued before
// it, each still run one at a time.
func TestTurnsHunt37StopWaitsOnlyForTheRunInTurn(t *testing.T) {
	tr := &turns{idle: func() bool { return false }, turn: make(chan struct{}, 1)} // the sender still runs
	tr.start()
	releaseA := make(chan func())
	go func() { releaseA <- tr.gate(time.Now()) }() // A takes the turn and waits for idle
	for len(tr.turn) == 0 {
		time.Sleep(time.Millisecond)
	}
	releaseB := make(chan func())
	go func() { releaseB <- tr.gate(time.Now()) }() // B queues behind A (or comes after stop: the same)
	stopped := make(chan struct{})
	go func() { tr.stop(); close(stopped) }()
	relA := <-releaseA // stop ended A's wait for idle; its handler runs now
	relA()             // A's handler answered: the run in turn has ended
	select {
	case <-stopped:
	case <-time.After(20 * time.Second): // for ever, before: B held the turn until its release
		t.Errorf("stop still waits 20 s after the run in turn ended: B, queued before stop, holds the turn (it runs in turn though turns are off)")
	}
	(<-releaseB)()
	<-stopped
}

// phaseWatch: a line in pieces, CRLF, a broadcast line with extra fields or
// a bad time, and a phase named "broadcast" tell nothing wrong.
func TestPhaseWatchHunt37OddLines(t *testing.T) {
	var got []string
	w := &phaseWatch{
		then:      map[string]func(){"send": func() { got = append(got, "send") }, "done": func() { got = append(got, "done") }},
		broadcast: func(at time.Time) { got = append(got, "b"+time.Duration(at.UnixNano()).String()) },
	}
	for _, part := range []string{"load:   1.0s broadcast clients 4/4\n", "load: broadcast 0 at 5 extra\n", "load: broadcast 0 at x\n",
		"load:  2.0s send clients\r\n", "load: broadcast 1 at 7\r", "\n", "load: broadcast", " 2 at 9\nload:", "  3.0s done clients\n", "load: broadcast 3 at 11"} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if s := strings.Join(got, ","); s != "send,b7ns,b9ns,done" {
		t.Errorf("told %q", s)
	}
}

// runApart's sending callback now starts a profile (startProfile), which
// calls b.Fatal when it cannot (the file cannot be made; profiling is
// already on because the last latency's runApart failed before
// StopCPUProfile). It runs in os/exec's goroutine copying the child's
// stderr (phaseWatch.Write): b.Fatal's Goexit ends that goroutine, and
// cmd.Run waits for it for ever instead of the benchmark failing.
func TestRunApartHunt37AProfileThatCannotStartFailsTheRun(t *testing.T) {
	was := *sendProfile
	*sendProfile = filepath.Join(t.TempDir(), "no-such-dir", "profile")
	defer func() { *sendProfile = was }()
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		b := &testing.B{} // a benchmark's B (not testing.Benchmark's: its lock would tie this test to the others)
		cmd := exec.Command("sh", "-c", `echo "load:   1.0s send      clients 4/4" >&2; sleep 0.3`)
		cmd.Stderr = &phaseWatch{then: map[string]func(){"send": func() { startProfile(b, "@0ms") }}}
		_ = cmd.Run()
	}()
	select {
	case <-ran:
	case <-time.After(30 * time.Second):
		t.Errorf("the child ended after 0.3 s but cmd.Run had not returned 30 s on: startProfile's b.Fatal in phaseWatch's callback ended os/exec's copying goroutine")
	}
}
