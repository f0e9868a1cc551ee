package lambdainvoke

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/local/lambdaenv"
)

// invokeEvent makes an asynchronous Invoke (InvocationType Event) of fn.
func invokeEvent(t *testing.T, s *Server, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.Endpoint()+"/2015-03-31/functions/fn/invocations", strings.NewReader(body))
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// waitFor polls cond until it holds or the test's deadline nears.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAnEventIsAcceptedAt202AndRunLater(t *testing.T) {
	t.Parallel()
	s, err := Start(0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	release := make(chan struct{})
	ran := make(chan string, 1)
	s.Register("fn", func(_ context.Context, ev json.RawMessage) (any, error) {
		<-release // still running when the caller has its answer
		ran <- string(ev)
		return "ignored", nil
	})
	status, body := invokeEvent(t, s, `{"a":1}`)
	if status != http.StatusAccepted || body != "" {
		t.Errorf("an event: %d %q, want 202 and no body", status, body)
	}
	close(release)
	if got := <-ran; got != `{"a":1}` {
		t.Errorf("the handler got %s", got)
	}
	if status, _ := invokeEvent(t, s, `{"big":"`+strings.Repeat("x", 256<<10)+`"}`); status != http.StatusRequestEntityTooLarge {
		t.Errorf("an event over 256 KB: %d, want 413", status)
	}
}

// retryingFast starts a server whose asynchronous retries wait 1 ms, closed
// when the test ends.
func retryingFast(t *testing.T) *Server {
	t.Helper()
	s, err := Start(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.AsyncRetryDelay = time.Millisecond
	return s
}

func TestAFailedEventIsRetriedTwiceThenDropped(t *testing.T) {
	t.Parallel()
	s := retryingFast(t)
	var (
		mu       sync.Mutex
		attempts = map[string]int{}
		dropped  []string
		errs     int
	)
	s.Observe(func(_ string, _ time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs++
		}
	})
	s.ObserveDropped(func(name string) {
		mu.Lock()
		defer mu.Unlock()
		dropped = append(dropped, name)
	})
	s.Register("fn", func(_ context.Context, ev json.RawMessage) (any, error) {
		var in struct{ Fail, ID string }
		_ = json.Unmarshal(ev, &in)
		mu.Lock()
		defer mu.Unlock()
		attempts[in.ID]++
		if in.Fail == "always" || (in.Fail == "once" && attempts[in.ID] == 1) {
			return nil, errors.New("failed")
		}
		return nil, nil
	})
	for _, body := range []string{`{"ID":"ok"}`, `{"ID":"once","Fail":"once"}`, `{"ID":"always","Fail":"always"}`} {
		if status, _ := invokeEvent(t, s, body); status != http.StatusAccepted {
			t.Fatalf("%s: %d", body, status)
		}
	}
	waitFor(t, "the failing event to be dropped", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(dropped) == 1 && attempts["once"] == 2 && attempts["ok"] == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if attempts["always"] != 3 || errs != 4 || dropped[0] != "fn" {
		t.Errorf("attempts %v, errors observed %d, dropped %v: want 3 attempts of the failing one (two retries), 4 errors, fn dropped once",
			attempts, errs, dropped)
	}
}

func TestCloseWaitsForEventsInProgress(t *testing.T) {
	t.Parallel()
	s, err := Start(0)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var done bool
	s.Register("fn", func(context.Context, json.RawMessage) (any, error) {
		close(started)
		time.Sleep(20 * time.Millisecond) // still running when Close is called
		done = true
		return nil, nil
	})
	if status, _ := invokeEvent(t, s, `{}`); status != http.StatusAccepted {
		t.Fatal(status)
	}
	<-started
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !done {
		t.Error("Close returned before the event's handler did")
	}
}

// An event the function's concurrency refuses (the environments' throttle,
// TooManyRequestsException) goes back to the queue and is tried again until
// it runs, as Lambda does for up to six hours: a throttle is neither one of
// its two retries nor an invocation the metrics count, but each attempt
// refused is one in Throttles.
func TestAThrottledEventIsTriedAgainUntilItRuns(t *testing.T) {
	t.Parallel()
	s := retryingFast(t)
	var (
		mu                       sync.Mutex
		attempts, observed, errs int
		dropped, throttles       int
	)
	s.Observe(func(_ string, _ time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		observed++
		if err != nil {
			errs++
		}
	})
	s.ObserveDropped(func(string) {
		mu.Lock()
		defer mu.Unlock()
		dropped++
	})
	s.ObserveThrottled(func(name string) {
		mu.Lock()
		defer mu.Unlock()
		if name == "fn" {
			throttles++
		}
	})
	s.Register("fn", func(context.Context, json.RawMessage) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts <= 4 { // the environments are all busy, four times over
			return nil, &lambdaenv.FunctionError{Type: lambdaenv.ErrorTypeThrottled, Message: "Rate Exceeded."}
		}
		return nil, nil
	})
	if status, _ := invokeEvent(t, s, `{}`); status != http.StatusAccepted {
		t.Fatal(status)
	}
	// Its invocation is observed once its handler has returned: wait for
	// that, not for the handler's fifth call.
	waitFor(t, "the event's invocation or its drop", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return observed > 0 || dropped > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if attempts != 5 || dropped != 0 || observed != 1 || errs != 0 || throttles != 4 {
		t.Errorf("%d attempts, %d dropped, %d invocations observed (%d errors), %d throttles: want the event run on its fifth attempt, not dropped, one invocation without error, 4 throttles",
			attempts, dropped, observed, errs, throttles)
	}
}

func TestAnEventGateRunsEventsOneAtATime(t *testing.T) {
	t.Parallel()
	s := retryingFast(t)
	var (
		mu              sync.Mutex
		running, most   int
		gated, released int
	)
	turn := make(chan struct{}, 1)
	s.EventGate = func(time.Time) func() {
		turn <- struct{}{}
		mu.Lock()
		gated++
		mu.Unlock()
		return func() {
			mu.Lock()
			released++
			mu.Unlock()
			<-turn
		}
	}
	done := make(chan struct{}, 5)
	s.Register("fn", func(context.Context, json.RawMessage) (any, error) {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		time.Sleep(time.Millisecond) // room for another to overlap, if it could
		mu.Lock()
		running--
		mu.Unlock()
		done <- struct{}{}
		return nil, nil
	})
	for range 5 {
		if status, _ := invokeEvent(t, s, `{}`); status != http.StatusAccepted {
			t.Fatalf("an event: %d", status)
		}
	}
	for range 5 {
		<-done
	}
	waitFor(t, "every event's release", func() bool { mu.Lock(); defer mu.Unlock(); return released == 5 })
	mu.Lock()
	defer mu.Unlock()
	if most != 1 || gated != 5 {
		t.Errorf("with a gate of one turn: at most %d events ran at once, %d passed the gate; want 1 and 5", most, gated)
	}
}
