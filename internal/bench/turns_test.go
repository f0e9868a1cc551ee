package bench

import (
	"flag"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/localtest"
)

var (
	shardsCold = flag.Bool("bench.shards-cold", false, "with -bench.in-turn: stop every idle environment before each shard's turn, so that each shard is a cold start (init, then its event)")
	inTurn     = flag.Bool("bench.in-turn", false, "BenchmarkBroadcastModes, environments: run each fan-out shard alone, after its sender answered and one after another, and report each broadcast as Lambda would run it, every environment on its own share (each-alone-ms)")
)

// turns runs the function's asynchronous events (fan-out shards) one at a
// time, each once no invocation runs: a broadcast's sender alone, then each
// of its shards alone, each environment on its own CPU share with the
// machine's other core left to the stand-ins, as on Lambda, where the
// environments of one broadcast do not share a CPU. A 2-core machine cannot
// give ten environments their 0.29 vCPU each beside the stand-ins of API
// Gateway and DynamoDB (docs/benchmarks.md). What it measures is put back
// together as Lambda runs it (eachAlone): every shard starting when its
// Invoke was accepted.
type turns struct {
	idle func() bool // no environment is busy
	cold func()      // stops every idle environment (-bench.shards-cold), or nil
	on   atomic.Bool // while the broadcasts are measured: the fill's events run at once

	turn chan struct{} // holds the event running (capacity 1)

	mu   sync.Mutex
	runs []shardRun
}

// shardRun is one asynchronous event's run: when its Invoke was accepted,
// when its turn came, and when its handler answered.
type shardRun struct{ accepted, opened, done time.Time }

// takeTurns has s's asynchronous events run in turn (nil: not asked for,
// or no environments).
func takeTurns(s *localtest.Stack) *turns {
	if !*inTurn || s.Environments == nil {
		return nil
	}
	t := &turns{idle: func() bool { return s.Environments.Stats().Busy == 0 }, turn: make(chan struct{}, 1)}
	if *shardsCold {
		t.cold = func() { s.Environments.StopIdle() }
	}
	s.Lambda.EventGate = t.gate
	return t
}

// gate is lambdainvoke's EventGate: while the broadcasts are measured
// (start to stop), the event waits for the turn and for every invocation
// running (its sender) to end, and its run is kept, from its acceptance
// (each attempt's: a retried one is kept twice, the later end counting).
// Once stop came it runs at once.
func (t *turns) gate(accepted time.Time) func() {
	if !t.on.Load() {
		return func() {}
	}
	t.turn <- struct{}{}
	if !t.on.Load() { // stop came while it waited: not in turn
		<-t.turn
		return func() {}
	}
	for t.on.Load() && !t.idle() {
		time.Sleep(time.Millisecond)
	}
	kept := t.on.Load() // not one of the measured broadcasts' once stop came
	if kept && t.cold != nil {
		t.cold()
	}
	opened := time.Now()
	return func() {
		if kept {
			t.mu.Lock()
			t.runs = append(t.runs, shardRun{accepted, opened, time.Now()})
			t.mu.Unlock()
		}
		<-t.turn
	}
}

// start has the events from now on take turns, and forgets the runs so
// far; nothing, if they take turns already.
func (t *turns) start() {
	if t == nil || t.on.Load() {
		return
	}
	t.mu.Lock()
	t.runs = nil
	t.mu.Unlock()
	t.on.Store(true)
}

// stop lets the events run at once again (the clients' leaving makes
// broadcasts too, which are not measured), once the run in turn now has
// ended; those waiting for their turn then run at once.
func (t *turns) stop() {
	if t != nil && t.on.Swap(false) {
		t.turn <- struct{}{} // the event running has ended and been kept
		<-t.turn
	}
}

// take stops the turns and returns the runs kept since start.
func (t *turns) take() []shardRun {
	if t == nil {
		return nil
	}
	t.stop()
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.runs)
}

// eachAlone returns, for each invocation during which shards were handed
// over (a broadcast's sender), the time from its start to the later of its
// own answer and its last shard's, each shard started when its Invoke was
// accepted and taking as long as it took alone: the broadcast as Lambda
// runs it, every environment at once on its own share. Invocations that
// handed over nothing (a shard's, a settle batch's) are none.
func eachAlone(spans []span, runs []shardRun) []float64 {
	ends := map[int]time.Time{}
	for _, r := range runs {
		// Its sender ran when the Invoke was accepted: of the invocations
		// then running, the last to start (the last broadcast's last shard
		// may still be answering when the next broadcast's sender starts).
		i := -1
		for j, s := range spans {
			if !r.accepted.Before(s.start) && !r.accepted.After(s.end) && (i < 0 || s.start.After(spans[i].start)) {
				i = j
			}
		}
		if i < 0 {
			continue
		}
		end := r.accepted.Add(r.done.Sub(r.opened))
		if e, ok := ends[i]; !ok || end.After(e) {
			ends[i] = end
		}
	}
	var out []float64
	for i, s := range spans {
		if end, ok := ends[i]; ok {
			out = append(out, ms(later(end, s.end).Sub(s.start)))
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
