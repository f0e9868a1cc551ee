// The invocation's deadline margin: time kept free before the deadline to
// finish cleanly (log, metrics, the answer). Work that can be left for
// later stops at the margin: a fan-out's deliveries and removals, and every
// retry of a store's write.

package chat

import (
	"context"
	"time"
)

type marginKey struct{}

// margin is the invocation's deadline margin and the clock it is read on.
type margin struct {
	d     time.Duration
	clock DeadlineClock
}

// withDeadlineMargin returns ctx carrying the invocation's deadline margin
// and clock, which RetryAllowed reads.
func withDeadlineMargin(ctx context.Context, d time.Duration, clock DeadlineClock) context.Context {
	return context.WithValue(ctx, marginKey{}, margin{d, clock})
}

// withoutMargin returns ctx without the invocation's deadline margin: a
// store's retries under it run to the deadline itself. A $disconnect's own
// writes (its mark, the device's leave, the delete) run so: they were given
// the event's context before the margin was kept in a context, and passing
// ctx as a parameter instead of storing it kept that as it was.
func withoutMargin(ctx context.Context) context.Context {
	return context.WithValue(ctx, marginKey{}, margin{})
}

// RetryAllowed reports whether a retry after pause would still start before
// ctx's deadline less the invocation's deadline margin (none outside an
// invocation), on the invocation's DeadlineClock. A store's retry loop asks
// it before every pause and after it: a write that keeps conflicting is
// given up at the margin, and what it was for is left for later
// (docs/design.md, Writes that are safe to retry).
func RetryAllowed(ctx context.Context, pause time.Duration) bool {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx.Err() == nil
	}
	m, _ := ctx.Value(marginKey{}).(margin)
	var clock DeadlineClock = realClock{}
	if m.clock != nil {
		clock = m.clock
	}
	return deadline.Sub(clock.Now())-pause >= m.d
}

// fanoutContext ends DeadlineMargin before the invocation's deadline, on
// its DeadlineClock.
func (inv *invocation) fanoutContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		return inv.opt.DeadlineClock.WithDeadline(ctx, deadline.Add(-inv.opt.DeadlineMargin))
	}
	return context.WithCancel(ctx)
}

// answerContext ends half the DeadlineMargin before the invocation's
// deadline: the caller's own copy of a fan-out (its answer), posted after
// every other was delivered or given up at the fan-out's cut-off, still has
// time to go out (ownLast).
func (inv *invocation) answerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		return inv.opt.DeadlineClock.WithDeadline(ctx, deadline.Add(-inv.opt.DeadlineMargin/2))
	}
	return context.WithCancel(ctx)
}
