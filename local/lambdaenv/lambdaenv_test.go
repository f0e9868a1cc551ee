package lambdaenv_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/local/lambdaenv"
)

// fn is the test function's bootstrap (testdata/fn), built once.
var fn string

func TestMain(m *testing.M) {
	if testkit.SlowPackage("builds a test function and runs it in processes") {
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "lambdaenv-test")
	if err != nil {
		panic(err)
	}
	fn = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-o", fn, "./testdata/fn")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build testdata/fn:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// answer is the test function's.
type answer struct {
	PID       int    `json:"pid"`
	Count     int    `json:"count"`
	RequestID string `json:"requestId"`
	Deadline  int64  `json:"deadline"`
	Env       string `json:"env"`
	CPU       int64  `json:"cpu"`
}

func start(t *testing.T, cfg lambdaenv.Config) *lambdaenv.Service {
	t.Helper()
	cfg.Bootstrap = fn
	var log testkit.Buffer
	cfg.Log, cfg.Output = &log, &log
	svc, err := lambdaenv.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if t.Failed() {
			t.Logf("service log:\n%s", log.String())
		}
	})
	return svc
}

func invoke(ctx context.Context, t *testing.T, svc *lambdaenv.Service, event string) answer {
	t.Helper()
	raw, err := svc.Invoke(ctx, []byte(event))
	if err != nil {
		t.Fatalf("invoke %s: %v", event, err)
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %q: %v", raw, err)
	}
	return a
}

func functionError(t *testing.T, err error) *lambdaenv.FunctionError {
	t.Helper()
	var fe *lambdaenv.FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v (%T), want a *lambdaenv.FunctionError", err, err)
	}
	return fe
}

// gate holds every request until n have arrived: n invocations waiting
// there at once ran concurrently.
func gate(t *testing.T, n int) string {
	t.Helper()
	var mu sync.Mutex
	arrived := 0
	open := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		if arrived == n {
			close(open)
		}
		mu.Unlock()
		select {
		case <-open:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestTwoConcurrentInvocationsRunInTwoEnvironments(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{Env: map[string]string{"FN_SETTING": "from the template"}})
	url := gate(t, 2)
	answers := make([]answer, 2)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() { answers[i] = invoke(ctx, t, svc, `{"gate":"`+url+`"}`) })
	}
	wg.Wait()
	if answers[0].PID == answers[1].PID {
		t.Errorf("both invocations ran in process %d, want two environments", answers[0].PID)
	}
	for _, a := range answers {
		if a.Count != 1 || a.Env != "from the template" {
			t.Errorf("answer %+v: want count 1 (a cold environment of its own) and the function's variable", a)
		}
	}
	if st := svc.Stats(); st.Started != 2 || st.Alive != 2 || st.Busy != 0 {
		t.Errorf("stats %+v, want 2 started, 2 alive, none busy", st)
	}
}

func TestAnIdleEnvironmentIsReusedWarm(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{})
	var reports []lambdaenv.Report
	svc.Observe(func(r lambdaenv.Report) { reports = append(reports, r) })
	before := time.Now()
	first := invoke(ctx, t, svc, `{}`)
	second := invoke(ctx, t, svc, `{}`)
	if second.PID != first.PID || first.Count != 1 || second.Count != 2 {
		t.Errorf("answers %+v then %+v: want the same process, its count 1 then 2", first, second)
	}
	if first.RequestID == "" || first.RequestID == second.RequestID {
		t.Errorf("request ids %q, %q: want two, from %s", first.RequestID, second.RequestID, "Lambda-Runtime-Aws-Request-Id")
	}
	if dl := time.UnixMilli(first.Deadline); dl.Before(before) || dl.After(time.Now().Add(lambdaenv.DefaultTimeout)) {
		t.Errorf("the function's deadline %s is not within the timeout of its invocation", dl)
	}
	if len(reports) != 2 || reports[0].Init <= 0 || reports[1].Init != 0 || reports[0].PID != first.PID {
		t.Errorf("reports %+v: want a cold start's init on the first only", reports)
	}
	if st := svc.Stats(); st.Started != 1 {
		t.Errorf("stats %+v, want 1 environment started", st)
	}
}

func TestAFunctionErrorIsReportedAndKeepsItsEnvironment(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{})
	first := invoke(ctx, t, svc, `{}`)
	_, err := svc.Invoke(ctx, []byte(`{"fail":"no such room"}`))
	if fe := functionError(t, err); fe.Message != "no such room" || fe.Type != "errorString" {
		t.Errorf("error %+v, want the function's, as the Go runtime reports it", fe)
	}
	if again := invoke(ctx, t, svc, `{}`); again.PID != first.PID || again.Count != 3 {
		t.Errorf("after the error: %+v, want process %d's third event", again, first.PID)
	}
}

func TestAnInvocationPastItsDeadlineIsKilledAndTheNextRunsInAFreshEnvironment(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{})
	first := invoke(ctx, t, svc, `{}`)
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := svc.Invoke(short, []byte(`{"block":true}`))
	if fe := functionError(t, err); fe.Type != lambdaenv.ErrorTypeTimeout || !strings.Contains(fe.Message, "Task timed out after") {
		t.Errorf("error %+v, want Lambda's timeout", fe)
	}
	if err := syscall.Kill(first.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d after the timeout: kill -0 = %v, want it gone", first.PID, err)
	}
	next := invoke(ctx, t, svc, `{}`)
	if next.PID == first.PID || next.Count != 1 {
		t.Errorf("after the timeout: %+v, want a new process's first event", next)
	}
	if st := svc.Stats(); st.Timeouts != 1 || st.Started != 2 || st.Alive != 1 {
		t.Errorf("stats %+v, want 1 timeout, 2 started, 1 alive", st)
	}
}

func TestAnInitErrorIsReportedAndInitIsTriedAgain(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{Env: map[string]string{"FN_INIT_ERROR": "MESSAGES_TABLE is not set"}})
	for range 2 {
		_, err := svc.Invoke(ctx, []byte(`{}`))
		if fe := functionError(t, err); fe.Type != "Fn.InitError" || fe.Message != "MESSAGES_TABLE is not set" {
			t.Errorf("error %+v, want the init error the runtime reported", fe)
		}
	}
	if st := svc.Stats(); st.InitErrors != 2 || st.Started != 2 || st.Alive != 0 {
		t.Errorf("stats %+v, want 2 init errors of 2 environments, none alive", st)
	}
}

func TestAnInvocationBeyondTheConcurrencyLimitIsThrottled(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{MaxEnvironments: 1})
	url := gate(t, 2)
	done := make(chan answer)
	go func() { done <- invoke(ctx, t, svc, `{"gate":"`+url+`"}`) }()
	for svc.Stats().Busy != 1 { // the first has its environment
		if ctx.Err() != nil {
			t.Fatal("the first invocation never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := svc.Invoke(ctx, []byte(`{}`))
	if fe := functionError(t, err); fe.Type != lambdaenv.ErrorTypeThrottled {
		t.Errorf("error %+v, want a throttle", fe)
	}
	if _, err := http.Get(url); err != nil { // the gate's second arrival opens it
		t.Fatal(err)
	}
	<-done
	if st := svc.Stats(); st.Throttles != 1 || st.Started != 1 {
		t.Errorf("stats %+v, want 1 throttle, 1 environment", st)
	}
}

func TestAnIdleEnvironmentIsRecycled(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{IdleTimeout: 200 * time.Millisecond})
	first := invoke(ctx, t, svc, `{}`)
	for svc.Stats().Recycled != 1 {
		if ctx.Err() != nil {
			t.Fatal("the idle environment was never recycled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := svc.Stats(); st.Alive != 0 {
		t.Errorf("stats %+v, want none alive", st)
	}
	if next := invoke(ctx, t, svc, `{}`); next.PID == first.PID || next.Count != 1 {
		t.Errorf("after recycling: %+v, want a new process's first event", next)
	}
}

func TestAnEnvironmentThatEndsWhileIdleIsNotHandedAnEvent(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{})
	first := invoke(ctx, t, svc, `{}`)
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil { // as the kernel's OOM killer would
		t.Fatal(err)
	}
	for svc.Stats().Alive != 0 {
		if ctx.Err() != nil {
			t.Fatal("the killed environment is still counted alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if next := invoke(ctx, t, svc, `{}`); next.PID == first.PID || next.Count != 1 {
		t.Errorf("after the idle environment ended: %+v, want a new process's first event", next)
	}
}

// A panicking handler's error is the invocation's; aws-lambda-go then ends
// the process rather than ask for the next event. The next invocation was
// never handed to that runtime, so, as on Lambda (which resets the
// environment), it runs in a fresh one instead of failing with its exit.
func TestTheEventAfterAPanicRunsInAFreshEnvironment(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{})
	first := invoke(ctx, t, svc, `{}`)
	for i := range 5 {
		if _, err := svc.Invoke(ctx, []byte(`{"panic":true}`)); err == nil || !strings.Contains(err.Error(), "asked to") {
			t.Fatalf("round %d: a panic answered %v, want its error", i, err)
		}
		if next := invoke(ctx, t, svc, `{}`); next.PID == first.PID || next.Count != 1 {
			t.Errorf("round %d: after the panic: %+v, want a new process's first event", i, next)
		}
	}
}

// StopIdle stops the idle environments at once: the next event is a cold
// start, as after idling for IdleTimeout.
func TestStopIdleMakesTheNextEventAColdStart(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{})
	first := invoke(ctx, t, svc, `{}`)
	if n := svc.StopIdle(); n != 1 {
		t.Errorf("StopIdle stopped %d environments, want the 1 idle", n)
	}
	if st := svc.Stats(); st.Alive != 0 || st.Recycled != 1 {
		t.Errorf("stats %+v, want none alive, 1 recycled", st)
	}
	if next := invoke(ctx, t, svc, `{}`); next.PID == first.PID || next.Count != 1 {
		t.Errorf("after StopIdle: %+v, want a new process's first event", next)
	}
}
