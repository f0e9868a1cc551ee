package chattest

// Fan-out shards as Lambda runs them (docs/design.md, Fan-out shards): the
// function's asynchronous Invoke of itself accepts the event (202) and runs
// it later in another environment, which shares no memory with the
// sender, and runs it again, at most twice more, when that invocation
// failed or was killed; Lambda may also refuse the Invoke (the sender then
// delivers the slice itself), or queue it and lose the answer (the sender
// delivers it, and the shard runs too).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// Sharded turns fan-out shards on: a broadcast to more than size
// connections hands its further slices to the Harness's Shards.
func Sharded(size int) Option {
	return func(o *chat.Options) { o.ShardSize, o.Shards = size, &Shards{} }
}

// ShardAttempts is how many times Lambda runs an asynchronous event: the
// first run and two retries.
const ShardAttempts = 3

// Shards is chat.ShardInvoker as Lambda's asynchronous Invoke: every
// accepted event runs on an environment of its own (Harness.Environment),
// each attempt killed where Kill says, and is run again when an attempt
// failed or was killed. The zero value queues the events until Run; with
// Background each runs at once in a goroutine of its own (Wait waits).
type Shards struct {
	h *Harness
	// Background runs an accepted event at once, alongside whatever else
	// runs (the randomized checker); otherwise it waits for Run (the
	// crash points: nothing may run during a Cut but the invocation cut).
	Background bool
	// Around, when set, wraps each attempt (the checker keeps its clock
	// from jumping while an invocation runs).
	Around func(attempt func())
	// Invoke, when set, answers each Invoke (InvokeAccepted by default).
	Invoke func(ShardCall) InvokeAnswer
	// Kill, when set, says after how many of its requests and posts an
	// attempt is killed (KillAfter; < 0: never).
	Kill func(ShardRun) int

	mu       sync.Mutex
	seq      int
	queue    []*shardJob
	wg       sync.WaitGroup
	runs     []ShardRun
	dropped  []ShardRun
	late     []string
	repeated map[string]bool // connection id + "\x00" + frame
	events   []ShardCall
}

// InvokeAnswer is what Lambda answers an asynchronous Invoke.
type InvokeAnswer int

const (
	// InvokeAccepted: queued (202).
	InvokeAccepted InvokeAnswer = iota
	// InvokeRefused: not queued (throttled): the sender delivers the slice.
	InvokeRefused
	// InvokeAnswerLost: queued, and the answer lost: the sender delivers
	// the slice, and the shard runs too.
	InvokeAnswerLost
)

// ShardCall is one Invoke: its number (from 1, in the order the Invokes
// arrived) and its event.
type ShardCall struct {
	Seq   int
	Event contract.ShardEvent
}

// ShardRun is one attempt of an accepted event: Attempt counts from 1. Ops
// and Killed are what it did (in Runs).
type ShardRun struct {
	ShardCall
	Attempt int
	Ops     []string
	Killed  bool
	Err     error
}

type shardJob struct {
	call ShardCall
	raw  []byte
}

var (
	errInvokeRefused = errors.New("chattest: Lambda refused the asynchronous Invoke (throttled)")
	errInvokeLost    = errors.New("chattest: the asynchronous Invoke's answer was lost")
)

// InvokeShard is the sender's Invoke: a crash point (Cut, KillAfter) like
// any DynamoDB request, then accepted, refused or queued with its answer
// lost, as Invoke says.
func (s *Shards) InvokeShard(ctx context.Context, event []byte) error {
	var whole map[string]contract.ShardEvent
	if err := json.Unmarshal(event, &whole); err != nil {
		return fmt.Errorf("chattest: a shard event that is not one: %w", err)
	}
	ev := whole[contract.ShardEventKey]
	if err := handOver(ctx, Request{Op: "Invoke", Table: "Lambda", Key: fmt.Sprintf("shard %d of %d", ev.Shard, ev.Of)}); err != nil {
		return err
	}
	s.mu.Lock()
	s.seq++
	call := ShardCall{Seq: s.seq, Event: ev}
	s.events = append(s.events, call)
	s.mu.Unlock()
	answer := InvokeAccepted
	if s.Invoke != nil {
		answer = s.Invoke(call)
	}
	if answer == InvokeRefused {
		return errInvokeRefused
	}
	if answer == InvokeAnswerLost {
		s.repeat(ev) // the sender delivers it too
	}
	job := &shardJob{call: call, raw: slices.Clone(event)}
	if s.Background {
		s.wg.Go(func() { s.run(job) })
	} else {
		s.mu.Lock()
		s.queue = append(s.queue, job)
		s.mu.Unlock()
	}
	if answer == InvokeAnswerLost {
		return errInvokeLost
	}
	return nil
}

// Run runs every queued event, and those they queue, until none is left.
func (s *Shards) Run() {
	for {
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		s.mu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, job := range q {
			s.run(job)
		}
	}
}

// Wait waits until every event started in the background has run.
func (s *Shards) Wait() { s.wg.Wait() }

// run runs an event's attempts, each in a fresh environment, until one
// succeeds; after the last it is dropped (Dropped).
func (s *Shards) run(job *shardJob) {
	for attempt := 1; attempt <= ShardAttempts; attempt++ {
		r := ShardRun{ShardCall: job.call, Attempt: attempt}
		after := -1
		if s.Kill != nil {
			after = s.Kill(r)
		}
		if attempt > 1 {
			s.repeat(job.call.Event) // Lambda's retry: delivered again
		}
		env := s.h.Environment()
		ctx, k := KillAfter(context.Background(), after)
		do := func() { _, r.Err = env.Invoke(ctx, job.raw) }
		if s.Around != nil {
			s.Around(do)
		} else {
			do()
		}
		r.Killed, _ = k.End()
		r.Ops = k.Ops()
		s.mu.Lock()
		s.runs = append(s.runs, r)
		s.late = append(s.late, k.Late()...)
		if r.Err == nil && !r.Killed {
			s.mu.Unlock()
			return
		}
		if attempt == ShardAttempts {
			s.dropped = append(s.dropped, r)
		}
		s.mu.Unlock()
	}
}

// repeat notes that the event's frame may reach its connections twice.
func (s *Shards) repeat(ev contract.ShardEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repeated == nil {
		s.repeated = map[string]bool{}
	}
	for _, m := range ev.Members {
		s.repeated[m.ConnID+"\x00"+string(ev.Frame)] = true
	}
}

// MayRepeat reports whether frame may reach the connection more than once
// on the wire: a shard that carried it to the connection was run again
// (Lambda's retry), or its Invoke's answer was lost (the sender delivered
// it too). The page shows it once (it drops a message whose id it shows).
func (s *Shards) MayRepeat(connID string, frame []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repeated[connID+"\x00"+string(frame)]
}

// Calls are every Invoke that reached Lambda, in order.
func (s *Shards) Calls() []ShardCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Runs are every attempt run, in the order they ended.
func (s *Shards) Runs() []ShardRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.runs)
}

// Dropped are the events whose every attempt failed: their slice lacks
// the frame (Lambda's AsyncEventsDropped).
func (s *Shards) Dropped() []ShardRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.dropped)
}

// Late lists what a shard's invocation did after it was killed or had
// returned: a goroutine that outlived it.
func (s *Shards) Late() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.late)
}

// Pending is how many events wait for Run.
func (s *Shards) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}
