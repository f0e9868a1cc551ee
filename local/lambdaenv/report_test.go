package lambdaenv_test

import (
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/local/lambdaenv"
)

// An event given a warm environment whose runtime has not asked for its
// next event yet (held back by its CPU quota after its last answer) waits
// for it. Duration, Lambda's, starts at the hand-over; a report still says
// when the event came, so that a user timing the function from its event
// (internal/bench's function-ms) counts the wait.
func TestAReportCoversTheTimeTheEventWaitedForItsRuntime(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{Env: map[string]string{"FN_NEXT_DELAY_MS": "1000"}})
	var (
		mu     sync.Mutex
		starts []time.Time // as the report places the event's start
	)
	svc.Observe(func(r lambdaenv.Report) {
		mu.Lock()
		defer mu.Unlock()
		starts = append(starts, time.Now().Add(-r.Duration-r.Init-r.Waited))
	})
	invoke(ctx, t, svc, `{}`) // its runtime asks for the next event 1 s after this answer
	called := time.Now()
	invoke(ctx, t, svc, `{}`)
	if took := time.Since(called); took < time.Second {
		t.Fatalf("the second invocation took %s: want its wait for the runtime, 1 s", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if late := starts[1].Sub(called); late > 500*time.Millisecond {
		t.Errorf("the report places the event's start %s after Invoke had it, want well before its 1 s wait for the runtime ended", late)
	}
}
