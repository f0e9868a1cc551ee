package chat_test

// The randomized checker with fan-out shards (issue 27 item 3): every
// other scenario (an even seed) shards each broadcast of more than two
// connections, and its shards run as Lambda runs an asynchronous event
// (chattest.Shards): at once, alongside everything else, each on an
// environment of its own, with faults of their own drawn from the seed:
// an Invoke refused (the sender delivers the slice), one queued with its
// answer lost (the sender delivers it, and the shard runs too), an attempt
// killed after a few of its requests and posts and run again. Every
// invariant of the checker must hold as without shards; a public message
// may reach a connection twice on the wire only by a shard run again or
// whose answer was lost, and the page shows it once (it drops an id it
// shows: messagelog.ts), as world.receive counts it.

import (
	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// checkerShardSize shards a broadcast to more than two connections.
const checkerShardSize = 2

// shardedSeed says whether a scenario runs with shards.
func shardedSeed(seed uint64) bool { return seed%2 == 0 }

// Rates of the shards' faults, per Invoke and per attempt.
const (
	shardRefused    = 0.1
	shardAnswerLost = 0.05
	shardKilled     = 0.25
)

// shards makes the Harness's shards Lambda-like, with the scenario's
// faults until quiet turns them off; never the last attempt killed (an
// event dropped loses its slice's frame, which Lambda's
// AsyncEventsDropped alarm is for, not the handler).
func (fb *faultBox) shards(s *chattest.Shards) {
	s.Background = true
	s.Around = func(attempt func()) { fb.w.event(attempt) }
	s.Invoke = func(chattest.ShardCall) chattest.InvokeAnswer {
		fb.w.tally.shards.Add(1)
		switch {
		case fb.off.Load():
		case fb.chance(shardRefused):
			fb.w.tally.shardRefused.Add(1)
			return chattest.InvokeRefused
		case fb.chance(shardAnswerLost):
			fb.w.tally.shardLost.Add(1)
			return chattest.InvokeAnswerLost
		}
		return chattest.InvokeAccepted
	}
	s.Kill = func(r chattest.ShardRun) int {
		if fb.off.Load() || r.Attempt == chattest.ShardAttempts || !fb.chance(shardKilled) {
			return -1
		}
		fb.mu.Lock()
		defer fb.mu.Unlock()
		return fb.rng.IntN(4)
	}
}

// checkShards: no shard was dropped or acted after it was killed; the
// figures count the attempts killed and run again.
func (w *world) checkShards() {
	s := w.h.Shards
	if s == nil {
		return
	}
	for _, d := range s.Dropped() {
		w.viol.add("shards", "a shard of %s to %d connections was dropped after %d attempts (%v)", d.Event.Room, len(d.Event.Members), d.Attempt, d.Err)
	}
	for _, late := range s.Late() {
		w.viol.add("shards", "a shard's invocation acted after it was killed or returned: %s", late)
	}
	for _, r := range s.Runs() {
		if r.Killed {
			w.tally.shardKills.Add(1)
		}
		if r.Attempt > 1 {
			w.tally.shardRetries.Add(1)
		}
	}
}
