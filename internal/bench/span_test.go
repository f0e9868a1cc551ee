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
	if got, want := spanMS(spans), []float64{300, 100}; !slices.Equal(got, want) {
		t.Fatalf("spanMS = %v, want %v", got, want)
	}
}
