package bench

import (
	"slices"
	"testing"
	"time"
)

// The function's time for each broadcast runs from its first invocation's
// start to its last one's end, and two broadcasts are told apart by a time
// with no invocation running.
func TestSpanMSGroupsOverlappingInvocationsIntoBroadcasts(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	spans := []span{
		{at(1000), at(1030)}, // the second broadcast's sender, out of order
		{at(0), at(40)},      // the first broadcast's sender
		{at(20), at(300)},    // its shards
		{at(35), at(250)},
		{at(1020), at(1100)},
	}
	for _, sends := range [][]time.Time{{at(0), at(1000)}, nil} { // nil: the clients in a child process
		if got, want := spanMS(slices.Clone(spans), sends), []float64{300, 100}; !slices.Equal(got, want) {
			t.Fatalf("spanMS(sends %v) = %v, want %v", sends, got, want)
		}
	}
}

// The next broadcast is sent once every member has the last one, not once
// the function has answered: its sender's invocation may start while the
// last one's is still finishing (its last bookkeeping, or its answer held
// back by its CPU quota). Each broadcast is still its own.
func TestSpanMSTellsApartABroadcastSentBeforeTheLastOneAnswered(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	spans := []span{
		{at(0), at(300)},     // the first broadcast's sender: its last member had it at 290
		{at(295), at(400)},   // the second's, sent at 292
		{at(1000), at(1100)}, // the third's
	}
	sends := []time.Time{at(-2), at(292), at(998)}
	if got, want := spanMS(spans, sends), []float64{300, 105, 100}; !slices.Equal(got, want) {
		t.Fatalf("spanMS = %v, want %v", got, want)
	}
}

// An invocation that started before the first broadcast was sent (the
// last broadcast before the report, answered after it; a settle batch of
// the fill) is none of the broadcasts'.
func TestSpanMSLeavesOutAnInvocationFromBeforeTheFirstBroadcast(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	spans := []span{
		{at(-700), at(5)}, // the last latency's last broadcast, sent at -701
		{at(2), at(200)},  // this one's first, sent at 1
	}
	if got, want := spanMS(spans, []time.Time{at(1)}), []float64{198}; !slices.Equal(got, want) {
		t.Fatalf("spanMS = %v, want %v", got, want)
	}
}

// Without an invocation there is no broadcast to time (the report then
// gives no function-ms, not 0 ms).
func TestSpanMSOfNoInvocationIsNoBroadcast(t *testing.T) {
	if got := spanMS(nil, []time.Time{time.Unix(1, 0)}); len(got) != 0 {
		t.Fatalf("spanMS = %v, want none", got)
	}
	if got := spanMS(nil, nil); len(got) != 0 {
		t.Fatalf("spanMS without sends = %v, want none", got)
	}
}

// In turn, a broadcast's shards run one after another once its sender
// answered; Lambda would have run each when its Invoke was accepted, at
// once on its own share. The broadcast ends at the later of its sender's
// answer and its last shard's, each shard put back at its acceptance.
func TestEachAloneStartsEveryShardWhenItsInvokeWasAccepted(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	spans := []span{
		{at(0), at(500)},     // the first broadcast's sender
		{at(500), at(800)},   // its shards, in turn
		{at(800), at(1150)},  //
		{at(1900), at(2010)}, // a shard of a broadcast before, still answering
		{at(2000), at(2100)}, // the second's sender, whose own deliveries end last
		{at(2100), at(2150)}, // its shard
		{at(3000), at(3010)}, // a settle batch: no shard
	}
	runs := []shardRun{
		{accepted: at(100), opened: at(500), done: at(800)},    // 300 ms alone: ends at 400
		{accepted: at(120), opened: at(800), done: at(1150)},   // 350 ms alone: ends at 470, before its sender
		{accepted: at(2010), opened: at(2100), done: at(2150)}, // ends at 2060, before its sender (not the shard then answering)
	}
	if got, want := eachAlone(spans, runs), []float64{500, 100}; !slices.Equal(got, want) {
		t.Fatalf("eachAlone = %v, want %v", got, want)
	}
	runs[1].done = at(1500) // 700 ms alone: ends at 820, after its sender
	if got, want := eachAlone(spans, runs), []float64{820, 100}; !slices.Equal(got, want) {
		t.Fatalf("eachAlone with a long shard = %v, want %v", got, want)
	}
}
