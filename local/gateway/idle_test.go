package gateway

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/internal/testkit"
)

// fakeTimers stands in for the gateway's connection timers: they fire when
// the test moves the clock, not when a busy machine gets round to it.
type fakeTimers struct {
	mu     sync.Mutex
	now    time.Duration
	timers []*fakeTimer
	added  chan struct{} // one value per timer started
}

type fakeTimer struct {
	clock *fakeTimers
	at    time.Duration
	f     func()
	on    bool
}

func newFakeTimers() *fakeTimers { return &fakeTimers{added: make(chan struct{}, 64)} }

func (c *fakeTimers) afterFunc(d time.Duration, f func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now + d, f: f, on: true}
	c.timers = append(c.timers, t)
	c.added <- struct{}{}
	return t
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := t.on
	t.at, t.on = t.clock.now+d, true
	return was
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := t.on
	t.on = false
	return was
}

// advance moves the clock by d and starts, each in a goroutine of its own
// as time.AfterFunc does, the timers that became due; it returns how many.
func (c *fakeTimers) advance(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now += d
	fired := 0
	for _, t := range c.timers {
		if t.on && t.at <= c.now {
			t.on = false
			fired++
			go t.f()
		}
	}
	return fired
}

// waitStarted waits until n timers have been started.
func (c *fakeTimers) waitStarted(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-c.added:
		case <-ctx.Done():
			t.Fatalf("the gateway started fewer than %d timers: %v", n, ctx.Err())
		}
	}
}

// The idle timeout is API Gateway's 10 minutes, on a clock the test moves:
// every message starts it again, and it closes the connection exactly when
// it has run out, however long the round trips took.
func TestIdleTimeoutClosesWith1001(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	const idle = 10 * time.Minute
	clock := newFakeTimers()
	s := start(t, echo, Config{IdleTimeout: idle}, func(g *Gateway) { g.afterFunc = clock.afterFunc })
	c, id := s.dial(ctx, t, "")
	clock.waitStarted(ctx, t, 2) // the idle timer and the maximum age's (2 hours)
	// Messages keep the connection alive past the idle timeout: 6 × 9 minutes.
	for range 6 {
		if n := clock.advance(idle - time.Minute); n != 0 {
			t.Fatalf("%d timers fired 9 minutes after a message", n)
		}
		write(ctx, t, c, "ping")
		read(ctx, t, c) // the gateway started the timer again before it invoked the handler
	}
	// ...and silence ends it, not a moment before the timeout.
	if n := clock.advance(idle - time.Millisecond); n != 0 {
		t.Fatalf("%d timers fired before the idle timeout", n)
	}
	if n := clock.advance(time.Millisecond); n != 1 {
		t.Fatalf("%d timers fired at the idle timeout, want the idle timer", n)
	}
	if ce := closeStatusOf(ctx, t, c); ce.Code != websocket.StatusGoingAway {
		t.Errorf("closed with %v, want 1001", ce)
	}
	d := s.events.disconnectOf(ctx, t, id)
	if d.RequestContext.DisconnectStatusCode != 1001 || *d.RequestContext.DisconnectReason != "Going Away" {
		t.Errorf("$disconnect %d %q, want 1001 Going Away", d.RequestContext.DisconnectStatusCode, *d.RequestContext.DisconnectReason)
	}
}
