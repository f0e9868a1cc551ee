package chattest

import (
	"context"
	"fmt"
	"sync"
)

// Kill is one invocation killed by its own context (KillAfter) right after
// its k-th request: each DynamoDB attempt, PostToConnection, DELETE
// @connections and shard Invoke counts, and the next one kills it. Unlike
// Cut it touches nothing the Harness shares, so invocations killed so run
// alongside any others (a fan-out shard's environment while the room goes
// on). The count is taken as a request leaves, not as it is applied: the
// kill cancels the context, and a request of the invocation still on its
// way may be lost with it, as on AWS. Run the invocation's requests one at
// a time (a slice of one connection) where the point must be exact.
type Kill struct {
	after  int
	cancel context.CancelFunc

	mu     sync.Mutex
	ops    []string
	killed bool
	ended  bool
	next   string
	late   []string
}

type killKey struct{}

// KillAfter returns the context of one invocation killed right after its
// after-th request (after < 0: never; Ops then lists them all). Call End
// once the invocation returned.
func KillAfter(parent context.Context, after int) (context.Context, *Kill) {
	ctx, cancel := context.WithCancel(parent)
	k := &Kill{after: after, cancel: cancel}
	return context.WithValue(ctx, killKey{}, k), k
}

// op counts a request, or kills the invocation at it; one made after the
// kill or the return is refused, and reported when its context is live
// (detached from the invocation's).
func (k *Kill) op(ctx context.Context, what string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.killed || k.ended:
		if ctx.Err() == nil {
			k.late = append(k.late, fmt.Sprintf("%s on a live context after the invocation was killed or returned", what))
		}
		return errKilled
	case k.after < 0 || len(k.ops) < k.after:
		k.ops = append(k.ops, what)
		return nil
	}
	k.killed, k.next = true, what
	k.cancel()
	return errKilled
}

// End marks the invocation returned and reports whether it was killed: an
// invocation that made its after requests and returned is killed at its
// return (its answer is lost: Lambda counts it failed).
func (k *Kill) End() (killed bool, next string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.killed && k.after >= 0 && len(k.ops) >= k.after {
		k.killed, k.next = true, "its return"
	}
	k.ended = true
	k.cancel()
	return k.killed, k.next
}

// Ops are the requests the invocation made before it was killed.
func (k *Kill) Ops() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.ops...)
}

// Late lists what the invocation did on a live context after it was
// killed or had returned (a goroutine that outlived it).
func (k *Kill) Late() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.late...)
}
