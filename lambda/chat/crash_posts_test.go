package chat_test

// Crash points between deliveries. TestEveryCrashPointKeepsTheInvariants
// kills an invocation after each of its DynamoDB requests, and so at the
// first post after it: the posts of one fan-out either all happen or none
// do. Lambda can also end an invocation between two of them (its timeout,
// an out-of-memory kill), and a post already on the wire may still arrive:
// some readers have the frame, others not. Here every scenario runs with one
// delivery at a time (so its posts have an order) and is killed at each of
// its posts in turn; the client then does what it would, and the same
// invariants are checked. The one rule this rests on: the caller's own copy
// of a frame, which its page takes as the answer to its request, is posted
// after every other copy (docs/design.md, Fan-out), so a page that has its
// answer knows that everyone else was sent the frame. One that has not sends
// its frame again here at once (the crash tests' client); the page waits 30 s
// and first looks for a stored message in the history (frontend/src/outbox.ts).

import (
	"fmt"
	"testing"
)

// atPostKey prefixes a scenario's name in crashKnown for its crash points
// at a post (k there is the posts let through).
const atPostKey = "at-post "

func TestEveryPostCrashPointKeepsTheInvariants(t *testing.T) {
	t.Parallel()
	eachCrashScenario(t, func(t *testing.T, sc crashScenario, name string, signed bool) {
		m := crashMode{signed: signed, atPost: true}
		n := len(runCrash(t, sc, m, -1).posts)
		for p := range n {
			t.Run(fmt.Sprintf("p=%d", p), func(t *testing.T) {
				t.Parallel()
				runCrash(t, sc, m, p).report(t, name, p, n)
			})
		}
	})
}
