package lambdaenv_test

import (
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/local/lambdaenv"
)

// An event whose process ends in it (a crash, the memory limit's kill) is
// reported with the CPU it spent before it ended, as the kernel counts it
// for the ended process: not 0 because /proc has nothing left of it.
func TestAReportSaysTheCPUOfAnEventWhoseProcessEnded(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{NoLimits: true})
	reports := make(chan lambdaenv.Report, 1)
	svc.Observe(func(r lambdaenv.Report) { reports <- r })
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
