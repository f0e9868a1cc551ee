package lambdaenv_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/local/lambdaenv"
)

// processesOf lists the live processes running the executable at path.
func processesOf(path string) []string {
	var pids []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil && exe == path {
			pids = append(pids, filepath.Base(dir))
		}
	}
	return pids
}

// ownBootstrap is a copy of the function of the test's own, so that its
// processes are the test's.
func ownBootstrap(t *testing.T) string {
	t.Helper()
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	data, err := os.ReadFile(fn)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bootstrap, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bootstrap
}

// invokeInBackground invokes svc with {} and returns a channel closed
// when the invocation has ended, whatever its answer.
func invokeInBackground(svc *lambdaenv.Service) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		_, _ = svc.Invoke(context.Background(), []byte(`{}`))
		close(done)
	}()
	return done
}

// roundService starts a service of bootstrap for one round, its notes in
// log (closeDuring closes it).
func roundService(t *testing.T, bootstrap string, log *testkit.Buffer) *lambdaenv.Service {
	t.Helper()
	svc, err := lambdaenv.Start(lambdaenv.Config{Bootstrap: bootstrap, Timeout: 5 * time.Second, Log: log, Output: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// closeDuring closes svc while the invocation of done runs, and fails the
// round unless Close removed everything (its error), the invocation then
// ended and no process of bootstrap runs on.
func closeDuring(ctx context.Context, t *testing.T, round int, svc *lambdaenv.Service, done <-chan struct{}, bootstrap string, log *testkit.Buffer) {
	t.Helper()
	if err := svc.Close(); err != nil {
		t.Errorf("round %d: close: %v", round, err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("round %d: the invocation never ended after Close", round)
	}
	if pids := processesOf(bootstrap); len(pids) > 0 {
		t.Fatalf("round %d: after Close and the invocation's end, processes %v of the function still run; log:\n%s", round, pids, log.String())
	}
}

// A service closed while an invocation is starting its environment leaves
// no process behind, nor a cgroup (Close's error), and the invocation
// ends. The environment's start is short, so Close is called as soon as
// the invocation has counted its start, many times over, for it to land
// within that start.
func TestClosingWhileAnEnvironmentStartsLeavesNoProcess(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	bootstrap := ownBootstrap(t)
	for i := range 40 {
		var log testkit.Buffer
		svc := roundService(t, bootstrap, &log)
		done := invokeInBackground(svc)
		for svc.Stats().Started == 0 {
			if ctx.Err() != nil {
				t.Fatal("the invocation never started an environment")
			}
		}
		closeDuring(ctx, t, i, svc, done, bootstrap, &log)
	}
}

// A service closed while an invocation finds its idle environment's process
// ended (and stops it) waits for that stop, and the invocation starts no
// environment after it: Close removes every cgroup, and no process runs on.
func TestClosingWhileAnInvocationStopsAnEndedEnvironmentLeavesNothing(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	bootstrap := ownBootstrap(t)
	for i := range 30 {
		var log testkit.Buffer
		svc := roundService(t, bootstrap, &log)
		first := invoke(ctx, t, svc, `{}`)
		if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for svc.Stats().Alive != 0 {
			if ctx.Err() != nil {
				t.Fatal("the killed environment is still counted alive")
			}
			time.Sleep(time.Millisecond)
		}
		done := invokeInBackground(svc)
		for svc.Stats().Exits == 0 { // the invocation has found the ended environment
			if ctx.Err() != nil {
				t.Fatal("the invocation never found the ended environment")
			}
		}
		closeDuring(ctx, t, i, svc, done, bootstrap, &log)
	}
}
