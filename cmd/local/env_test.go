package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/ddbproxy"
	"github.com/groupchat/groupchat/local/gateway"
	"github.com/groupchat/groupchat/local/lambdaenv"
)

// bootstrap is the deployed binary built for this machine, as `make dev`
// with LAMBDA=env builds it: once for the test binary, removed by TestMain.
var bootstrap struct {
	once sync.Once
	dir  string
	path string
	out  []byte
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bootstrap.dir != "" {
		_ = os.RemoveAll(bootstrap.dir)
	}
	os.Exit(code)
}

func hostBootstrap(t *testing.T) string {
	t.Helper()
	bootstrap.once.Do(func() {
		if bootstrap.dir, bootstrap.err = os.MkdirTemp("", "local-bootstrap"); bootstrap.err != nil {
			return
		}
		build := exec.Command("../../scripts/build-lambda.sh", bootstrap.dir)
		build.Env = append(os.Environ(), "LAMBDA_GOARCH="+runtime.GOARCH)
		bootstrap.out, bootstrap.err = build.CombinedOutput()
		bootstrap.path = filepath.Join(bootstrap.dir, "bootstrap")
	})
	if bootstrap.err != nil {
		t.Fatalf("scripts/build-lambda.sh: %v\n%s", bootstrap.err, bootstrap.out)
	}
	return bootstrap.path
}

// TestChatRunsInExecutionEnvironments runs the local stack with the
// deployed binary in execution environments (processes of their own,
// speaking the Runtime API, each held to 512 MB's CPU share where cgroups
// are permitted): two clients join, one's public message reaches both.
func TestChatRunsInExecutionEnvironments(t *testing.T) {
	t.Parallel()
	testkit.Slow(t, "builds the bootstrap and runs the local stack with it")
	ctx := testkit.Context(t, 3*time.Minute)
	s := startTestStack(t, gateway.Config{}, &local.Environments{Bootstrap: hostBootstrap(t), MemoryMB: 512})
	must(t, s.Environments != nil, "the stack runs the function in this process")

	alice, _ := s.join(ctx, t, "Alice", "lobby")
	bob, st := s.join(ctx, t, "Bob", "lobby")
	must(t, slices.Equal(st.strs("members"), []string{"Alice", "Bob"}), "Bob's state lists the room: %v", st)
	must(t, alice.expect(ctx, "joined").str("name") == "Bob", "Alice is told Bob joined")
	alice.send(ctx, map[string]any{"action": "sendPublic", "message": "hi from an environment", "ref": "e1"})
	for _, c := range []*client{alice, bob} {
		p := c.expect(ctx, "public")
		must(t, p.str("from") == "Alice" && p.str("message") == "hi from an environment", "%s got %v", c.name, p)
	}
	st2 := s.Environments.Stats()
	must(t, st2.Started >= 1 && st2.Timeouts == 0 && st2.Exits == 0 && st2.InitErrors == 0, "environments: %+v", st2)
	// The environments' metric lines reach the stack's metrics, as
	// CloudWatch takes them from the function's output (the sendPublic's
	// once its invocation has ended, after its deliveries).
	for !strings.Contains(s.Metrics(), `"`+contract.RouteSendPublic+`"`) {
		if ctx.Err() != nil {
			t.Fatalf("no sendPublic metric line from the environments:\n%s", s.Metrics())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("environments: %+v; %s", st2, s.Environments.Limits())
}

// Issue 27's Done when, through the deployed binary: a second concurrent
// invocation gets a second environment (its own cold start), and memory is
// not shared between them. Carol's hello flood is refused, and an
// environment that refused it remembers so (the rate-limit refusals, an
// in-memory cache) and refuses her next frames without a request: with
// DynamoDB down, her hello is still answered rate_limited. Then every
// environment alive is held busy (Dave's hellos, each stopped at its first
// DynamoDB request by the proxy's Before gate, until as many are busy as
// are alive), and Carol sends one more hello: it needs an environment of
// its own, started cold, whose memory holds no refusal, so it asks the
// table and gets the outage (internal). In one process, with one memory,
// it would be rate_limited. No timing is assumed: the busy environments
// wait on the gate, not on a clock.
func TestASecondConcurrentInvocationGetsAColdEnvironmentThatSharesNoMemory(t *testing.T) {
	t.Parallel()
	testkit.Slow(t, "builds the bootstrap and runs the local stack with it")
	ctx := testkit.Context(t, 3*time.Minute)
	s := startTestStack(t, gateway.Config{}, &local.Environments{Bootstrap: hostBootstrap(t), MemoryMB: 512})
	dave, _ := s.join(ctx, t, "Dave", "memory-dave")
	carol, _ := s.join(ctx, t, "Carol", "memory")
	answer := func() frame { // the next state or error, past member updates
		for {
			if f := carol.next(ctx); f.str("type") == "state" || f.str("type") == "error" {
				return f
			}
		}
	}
	for i := 0; ; i++ {
		must(t, i < 20, "20 hellos and none refused")
		carol.send(ctx, map[string]any{"action": "hello"})
		if f := answer(); f.str("type") == "error" {
			must(t, f.str("code") == contract.CodeRateLimited, "hello %d: %v, want a state or rate_limited", i+1, f)
			break
		}
	}
	faults := s.DynamoDBProxy.Injected()
	down := faults
	down.Unavailable = true
	s.DynamoDBProxy.Inject(down)
	// An environment that refused her answers from its memory, the table
	// down (where several are alive, a hello may meet one that did not).
	remembered := false
	for i := 0; i < 5 && !remembered; i++ {
		carol.send(ctx, map[string]any{"action": "hello"})
		remembered = answer().str("code") == contract.CodeRateLimited
	}
	must(t, remembered, "with DynamoDB down, 5 hellos and none refused from an environment's memory")

	var once sync.Once
	release := make(chan struct{})
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	gated := faults
	gated.Before = func(ddbproxy.Write) { <-release } // every request waits: each invocation making one holds its environment
	s.DynamoDBProxy.Inject(gated)
	var before lambdaenv.Stats
	for sent, deadline := 0, time.Now().Add(time.Minute); ; {
		st := s.Environments.Stats()
		if st.Alive > 0 && st.Busy >= st.Alive {
			before = st
			break
		}
		must(t, time.Now().Before(deadline), "Dave's %d hellos did not make every environment busy: %+v", sent, st)
		if sent <= st.Busy { // every hello sent holds an environment: one more for the next idle one
			dave.send(ctx, map[string]any{"action": "hello"})
			sent++
		}
		time.Sleep(10 * time.Millisecond) // polling the pool's counts; nothing else signals them
	}
	down.Before = gated.Before
	s.DynamoDBProxy.Inject(down) // requests now fail at once; those waiting stay held
	carol.send(ctx, map[string]any{"action": "hello", "ref": "cold"})
	code := answer().str("code")
	after := s.Environments.Stats()
	once.Do(func() { close(release) })
	s.DynamoDBProxy.Inject(faults)
	must(t, after.Started > before.Started, "no environment was started for the invocation beside the busy ones: before %+v, after %+v", before, after)
	must(t, code == contract.CodeInternal,
		"her hello in a new environment answered %q; want internal: its memory holds no refusal, so it asked the table, which was down", code)
	t.Logf("environments before %+v, after %+v", before, after)
}

// TestSignInRunsInExecutionEnvironments runs the stack with sign-in on and
// the function in environments: the local issuer's Pre sign-up trigger
// (through the local Lambda API) and the $connect authorizer both run in
// the bootstrap, and the authorizer's "Unauthorized" and deny reach the
// client as API Gateway answers them.
func TestSignInRunsInExecutionEnvironments(t *testing.T) {
	t.Parallel()
	testkit.Slow(t, "builds the bootstrap and runs the local stack with it, with cognito-local")
	ctx := testkit.Context(t, 3*time.Minute)
	s := &testStack{Stack: localtest.Start(t, local.Options{
		Auth:         contract.AuthCognito,
		Log:          testWriter{t},
		Environments: &local.Environments{Bootstrap: hostBootstrap(t), MemoryMB: 512},
	})}
	token, err := s.Token(ctx, "zed", true) // a new account: its sign-up runs the trigger
	if err != nil {
		t.Fatal(err)
	}
	zed, st := s.joinWith(ctx, t, "Zed", "lobby", token)
	must(t, st.str("you") == "Zed", "state %v", st)
	zed.quiet(ctx)
	parts := strings.Split(token, ".")
	must(t, s.handshake(ctx, t, parts[0]+"."+parts[1]+".AAAA") == http.StatusForbidden, "a token with a wrong signature: want 403")
	st2 := s.Environments.Stats()
	must(t, st2.Started >= 1 && st2.Timeouts+st2.Exits+st2.InitErrors == 0, "environments: %+v", st2)
}

// TestRunWithLambdaEnv runs cmd/local with LAMBDA=env: it says where the
// function runs, and a client's hello is answered by the bootstrap.
func TestRunWithLambdaEnv(t *testing.T) {
	t.Parallel()
	testkit.Slow(t, "builds the bootstrap and runs the local stack with it")
	ctx := testkit.Context(t, 3*time.Minute)
	path := hostBootstrap(t)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &lineWriter{lines: make(chan string, 32)}
	log := &testkit.Buffer{Tee: testWriter{t}}
	done := make(chan error, 1)
	env := map[string]string{"PORT": "0", "LAMBDA": "env"}
	go func() {
		done <- run(runCtx, []string{"-static", t.TempDir() + "/missing", "-lambda-bootstrap", path},
			func(k string) string { return env[k] }, out, log)
	}()
	var wsURL, function string
	for wsURL == "" || function == "" {
		select {
		case line := <-out.lines:
			switch f := strings.Fields(line); {
			case len(f) > 1 && f[0] == "WebSocket":
				wsURL = f[1]
			case len(f) > 1 && f[0] == "function":
				function = line
			}
		case err := <-done:
			t.Fatalf("run ended early: %v", err)
		case <-ctx.Done():
			t.Fatal("no WebSocket URL printed")
		}
	}
	must(t, strings.Contains(function, path) && strings.Contains(function, "execution environments"), "printed %q", function)
	ws, _, err := websocket.Dial(ctx, wsURL+"?name=Zoe", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	zoe := &client{t: t, ws: ws, name: "Zoe"}
	zoe.send(ctx, map[string]any{"action": "hello"})
	must(t, zoe.expect(ctx, "state").str("you") == "Zoe", "Zoe's state")
	must(t, strings.Contains(log.String(), "lambda environment 1: started, pid"), "no environment started:\n%s", log.String())
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

// Where cgroups are not permitted (here: -lambda-cgroups names a directory
// with no cpu controller), the stack still runs the environments, and its
// console says they have no CPU quota.
func TestRunSaysWhenTheEnvironmentsHaveNoCPUQuota(t *testing.T) {
	t.Parallel()
	testkit.Slow(t, "builds the bootstrap and runs the local stack with it")
	ctx := testkit.Context(t, 3*time.Minute)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &lineWriter{lines: make(chan string, 32)}
	done := make(chan error, 1)
	env := map[string]string{"PORT": "0", "LAMBDA": "env"}
	go func() {
		done <- run(runCtx, []string{"-static", t.TempDir() + "/missing", "-lambda-bootstrap", hostBootstrap(t), "-lambda-cgroups", t.TempDir()},
			func(k string) string { return env[k] }, out, testWriter{t})
	}()
	for function := ""; function == ""; {
		select {
		case line := <-out.lines:
			if f := strings.Fields(line); len(f) > 1 && f[0] == "function" {
				function = line
			}
		case err := <-done:
			t.Fatalf("run ended early: %v", err)
		case <-ctx.Done():
			t.Fatal("no function line printed")
		}
		must(t, function == "" || strings.Contains(function, "execution environments") && strings.Contains(function, "NO CPU QUOTA"), "printed %q", function)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestRunRefusesAnUnknownLambdaMode(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"-lambda", "container"}, func(string) string { return "" }, io.Discard, io.Discard)
	must(t, err != nil && strings.Contains(err.Error(), "inprocess or env"), "err = %v", err)
}
