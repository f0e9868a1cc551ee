package lambdaenv_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/local/lambdaenv"
)

// StopIdle racing events being handed to idle environments never stops
// one that was just picked: no invocation fails, none is counted as an
// exit, and every environment stopped is counted Recycled.
func TestStopIdleHunt37RacingInvocationsKillsNoPickedEnvironment(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 2*time.Minute)
	svc := start(t, lambdaenv.Config{})
	var (
		wg      sync.WaitGroup
		stopped atomic.Int64
		failed  atomic.Int64
		quit    = make(chan struct{})
	)
	go func() {
		for {
			select {
			case <-quit:
				return
			default:
			}
			stopped.Add(int64(svc.StopIdle()))
			time.Sleep(200 * time.Microsecond)
		}
	}()
	for range 2 {
		wg.Go(func() {
			for range 15 {
				if _, err := svc.Invoke(ctx, []byte(`{}`)); err != nil {
					failed.Add(1)
					t.Errorf("invoke: %v", err)
				}
			}
		})
	}
	wg.Wait()
	close(quit)
	time.Sleep(10 * time.Millisecond)
	stopped.Add(int64(svc.StopIdle()))
	st := svc.Stats()
	if failed.Load() != 0 || st.Exits != 0 || int64(st.Recycled) != stopped.Load() || st.Alive != 0 {
		t.Errorf("stats %+v, %d stopped by StopIdle, %d failed: want no exits or failures, every stop recycled, none alive", st, stopped.Load(), failed.Load())
	}
}
