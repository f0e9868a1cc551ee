package chattest

import (
	"context"
	"sync"
	"time"
)

// DeadlineClock is a chat.DeadlineClock a test moves: real time until the
// test calls AdvanceTo, real time from the instant it set after that. A
// test gives the invocation a deadline far off in real time and moves the
// clock past the cut-off (the deadline less the margin) at the point it
// chooses, e.g. from a proxy fault after some requests: what stops at the
// cut-off then stops there however fast the machine is. The zero value is
// ready to use; pass it as chat.Options.DeadlineClock.
type DeadlineClock struct {
	mu      sync.Mutex
	offset  time.Duration
	waiting map[*clockWait]bool // contexts not ended yet
}

// clockWait is a context of WithDeadline, waiting for the clock to reach
// its deadline.
type clockWait struct {
	at     time.Time
	cancel context.CancelFunc
}

// Now is real time plus however far AdvanceTo moved the clock.
func (c *DeadlineClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// WithDeadline returns a copy of ctx that ends when Now reaches d: when
// AdvanceTo moves the clock to or past d, or when real time gets there.
func (c *DeadlineClock) WithDeadline(ctx context.Context, d time.Time) (context.Context, context.CancelFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithDeadline(ctx, d.Add(-c.offset))
	w := &clockWait{at: d, cancel: cancel}
	if c.waiting == nil {
		c.waiting = map[*clockWait]bool{}
	}
	c.waiting[w] = true
	return ctx, func() {
		c.mu.Lock()
		delete(c.waiting, w)
		c.mu.Unlock()
		cancel()
	}
}

// AdvanceTo moves the clock forward to t (never back), and ends every
// context of WithDeadline whose deadline it reached, before it returns:
// whatever reads the clock or one of those contexts afterwards sees the
// new time.
func (c *DeadlineClock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := time.Until(t); d > c.offset {
		c.offset = d
	}
	now := time.Now().Add(c.offset)
	for w := range c.waiting {
		if !now.Before(w.at) {
			w.cancel()
			delete(c.waiting, w)
		}
	}
}
