package lambdaenv_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/local/lambdaenv"
)

// observed starts a service without limits and returns it with the
// channel its reports go to (read one after each invocation).
func observed(t *testing.T) (*lambdaenv.Service, <-chan lambdaenv.Report) {
	t.Helper()
	svc := start(t, lambdaenv.Config{NoLimits: true})
	reports := make(chan lambdaenv.Report, 2)
	svc.Observe(func(r lambdaenv.Report) { reports <- r })
	return svc, reports
}

// An invocation's report says the CPU its event used, apart from the time
// it waited: what the function measures of itself, give or take a clock
// tick, plus the runtime's own work around it, and next to nothing for an
// event that only waits. CPU time, not wall time, so the machine's speed
// and load do not matter.
func TestAReportSaysTheCPUAnEventUsedApartFromItsWaiting(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc, reports := observed(t)
	spun := invoke(ctx, t, svc, `{"spin":150}`)
	busy := <-reports
	own := time.Duration(spun.CPU)
	// getrusage's user and system times are sampled at the clock tick and
	// scaled to the scheduler's total, so the two counts may differ by a
	// tick or two either way.
	if own < 150*time.Millisecond || busy.CPU < own-25*time.Millisecond || busy.CPU > own+100*time.Millisecond {
		t.Errorf("an event that ran %s on a CPU by its own count was reported at %s of CPU (%s long): want its own (less up to 25 ms) to 100 ms more",
			own, busy.CPU, busy.Duration)
	}
	invoke(ctx, t, svc, `{"sleep":300}`)
	idle := <-reports
	if idle.Duration < 290*time.Millisecond || idle.CPU > 50*time.Millisecond {
		t.Errorf("an event that slept 300 ms was reported %s long with %s of CPU: want about 300 ms or more, and under 50 ms of CPU", idle.Duration, idle.CPU)
	}
}

// An event whose process ends in it (a crash, the memory limit's kill) is
// reported with the CPU it spent before it ended, as the kernel counts it
// for the ended process: not 0 because /proc has nothing left of it.
func TestAReportSaysTheCPUOfAnEventWhoseProcessEnded(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc, reports := observed(t)
	_, err := svc.Invoke(ctx, []byte(`{"spin":150,"exit":true}`))
	if fe := functionError(t, err); fe.Type != lambdaenv.ErrorTypeExit {
		t.Errorf("error %+v, want the runtime's exit", fe)
	}
	// The function ran 150 ms on a CPU by getrusage's count, which may
	// differ from the scheduler's by a tick or two.
	if r := <-reports; r.CPU < 125*time.Millisecond {
		t.Errorf("an event that ran 150 ms on a CPU, then ended its process, was reported at %s of CPU (%s long)", r.CPU, r.Duration)
	}
}

// A report counts the CPU an event spent from the moment the runtime got
// it, however late the service's own goroutine runs after handing it over
// (here: one P, kept busy by another goroutine, as in a busy bin/local):
// never less than the function's own count of its work inside the event.
// Not parallel: it holds this process to one P.
func TestAReportCountsTheCPUAnEventSpentBeforeTheServiceLooked(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	svc, reports := observed(t)
	invoke(ctx, t, svc, `{}`) // its cold start
	<-reports
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for i := 0; i < 1e6; i++ {
			}
		}
	}()
	for i := range 10 {
		// The sleep after the spin lets the process's threads be counted
		// up to date when the answer comes.
		a := invoke(ctx, t, svc, `{"spin":30,"sleep":5}`)
		if r, own := <-reports, time.Duration(a.CPU); r.CPU < own {
			t.Errorf("event %d: reported %s of CPU, less than the %s the function counted itself inside it", i, r.CPU, own)
		}
	}
}
