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

// withDeadlineMargin returns ctx carrying the invocation's deadline margin,
// which RetryAllowed reads.
func withDeadlineMargin(ctx context.Context, margin time.Duration) context.Context {
	return context.WithValue(ctx, marginKey{}, margin)
}

// RetryAllowed reports whether a retry after pause would still start before
// ctx's deadline less the invocation's deadline margin (none outside an
// invocation). A store's retry loop asks it before every pause and after
// it: a write that keeps conflicting is given up at the margin, and what it
// was for is left for later (docs/design.md, Writes that are safe to retry).
func RetryAllowed(ctx context.Context, pause time.Duration) bool {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx.Err() == nil
	}
	margin, _ := ctx.Value(marginKey{}).(time.Duration)
	return time.Until(deadline)-pause >= margin
}

// fanoutContext ends DeadlineMargin before the invocation's deadline.
func (inv *invocation) fanoutContext() (context.Context, context.CancelFunc) {
	if deadline, ok := inv.ctx.Deadline(); ok {
		return context.WithDeadline(inv.ctx, deadline.Add(-inv.opt.DeadlineMargin))
	}
	return context.WithCancel(inv.ctx)
}
