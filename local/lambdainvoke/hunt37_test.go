package lambdainvoke

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/local/lambdaenv"
)

// An event waiting at its gate has not begun (its deadline has not
// started): Close should drop it as it drops one waiting for a retry, not
// wait for the gate to open, and its handler should not run after Close.
func TestCloseHunt37DropsAnEventWaitingAtItsGate(t *testing.T) {
	t.Parallel()
	s, err := Start(0)
	if err != nil {
		t.Fatal(err)
	}
	open := make(chan struct{})
	gated := make(chan struct{})
	var once sync.Once
	s.EventGate = func(time.Time) func() {
		once.Do(func() { close(gated) })
		<-open
		return func() {}
	}
	var mu sync.Mutex
	ran := false
	s.Register("fn", func(context.Context, json.RawMessage) (any, error) {
		mu.Lock()
		ran = true
		mu.Unlock()
		return nil, nil
	})
	if status, _ := invokeEvent(t, s, `{}`); status != http.StatusAccepted {
		t.Fatal(status)
	}
	<-gated
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second): // for ever, before: Close waited for the gate
		close(open) // let it end, so the test does not leak
		<-closed
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("Close did not return within 20 s while an event waited at its gate (after the gate opened, its handler ran: %v)", ran)
	}
	close(open)
}

// Each attempt of an event passes the gate once and releases it once, a
// throttled attempt and a failed one included.
func TestEventGateHunt37EachAttemptPassesOnceAndReleases(t *testing.T) {
	t.Parallel()
	s := retryingFast(t)
	var (
		mu                       sync.Mutex
		gated, released, running int
		attempts, observed       int
		inGate                   bool
	)
	s.EventGate = func(time.Time) func() {
		mu.Lock()
		gated++
		if running != 0 {
			t.Errorf("gate called while an attempt runs")
		}
		inGate = true
		mu.Unlock()
		return func() {
			mu.Lock()
			released++
			inGate = false
			mu.Unlock()
		}
	}
	s.Observe(func(string, time.Duration, error) { mu.Lock(); observed++; mu.Unlock() })
	s.Register("fn", func(context.Context, json.RawMessage) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if !inGate {
			t.Errorf("attempt %d ran without passing the gate", attempts)
		}
		switch attempts {
		case 1, 2:
			return nil, &lambdaenv.FunctionError{Type: lambdaenv.ErrorTypeThrottled, Message: "Rate Exceeded."}
		case 3:
			return nil, errors.New("boom")
		}
		return nil, nil
	})
	if status, _ := invokeEvent(t, s, `{}`); status != http.StatusAccepted {
		t.Fatal(status)
	}
	waitFor(t, "the event's success", func() bool { mu.Lock(); defer mu.Unlock(); return observed == 2 })
	waitFor(t, "the last release", func() bool { mu.Lock(); defer mu.Unlock(); return released == 4 })
	mu.Lock()
	defer mu.Unlock()
	if gated != 4 || released != 4 || attempts != 4 {
		t.Errorf("gated %d, released %d, attempts %d; want 4 each", gated, released, attempts)
	}
}
