package bench

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/lambdaenv"
)

// lambdaMemory is the memory whose CPU share the environments get: the
// function's (infra/stack's memoryMB).
const lambdaMemory = 512

// BenchmarkLambdaModes measures the function in each way the local stack
// runs it (docs/local.md): in this process, and the deployed binary in
// execution environments held to 512 MB's CPU share (0.29 vCPU, cgroups as
// root). On a fresh stack, coldConnects clients connect at once (each
// $connect in env mode a cold start of its own environment: init, then the
// event), then each sends sendsPerClient public messages to its own room,
// one at a time, waiting for its own copy (warm). It reports the first
// connects' time at the client, the environments' init and first event
// (env only), the warm sendPublic's round trip and how many environments
// the run started. Run it with -benchtime 1x.
func BenchmarkLambdaModes(b *testing.B) {
	for _, mode := range []string{"inprocess", "env"} {
		b.Run("mode="+mode, func(b *testing.B) {
			o := local.Options{}
			if mode == "env" {
				o.Environments = &local.Environments{Bootstrap: hostBootstrap(b), MemoryMB: lambdaMemory}
			}
			for b.Loop() {
				lambdaModeRun(b, startStack(b, o))
			}
		})
	}
}

const (
	coldConnects   = 4
	sendsPerClient = 5 // within the budget's 20 charged frames in 10 s
)

func lambdaModeRun(b *testing.B, s *localtest.Stack) {
	ctx := testkit.Context(b, 5*time.Minute)
	var mu sync.Mutex
	var inits, firsts []float64
	if s.Environments != nil {
		b.Logf("environments: %s", s.Environments.Limits())
		s.Environments.Observe(func(r lambdaenv.Report) {
			if r.Init > 0 {
				mu.Lock()
				inits, firsts = append(inits, ms(r.Init)), append(firsts, ms(r.Duration))
				mu.Unlock()
			}
		})
	}
	conns := make([]*websocket.Conn, coldConnects)
	connectMS := make([]float64, coldConnects)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			start := time.Now()
			ws, _, err := websocket.Dial(ctx, s.URL+"?"+url.Values{"name": {fmt.Sprintf("c%d", i)}, "room": {fmt.Sprintf("lambda-%d", i)}}.Encode(), nil)
			if err != nil {
				b.Errorf("connect: %v", err)
				return
			}
			connectMS[i] = ms(time.Since(start))
			b.Cleanup(func() { _ = ws.CloseNow() })
			conns[i] = ws
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	var sends []float64
	for i, ws := range conns {
		for j := range sendsPerClient {
			ref := fmt.Sprintf("r%d-%d", i, j)
			start := time.Now()
			msg, _ := json.Marshal(map[string]string{"action": "sendPublic", "message": "warm", "ref": ref})
			if err := ws.Write(ctx, websocket.MessageText, msg); err != nil {
				b.Fatal(err)
			}
			for {
				_, data, err := ws.Read(ctx)
				if err != nil {
					b.Fatalf("read: %v", err)
				}
				var f struct{ Type, Ref, Code string }
				_ = json.Unmarshal(data, &f)
				if f.Type == "error" {
					b.Fatalf("sendPublic answered %s", data)
				}
				if f.Type == "public" && f.Ref == ref {
					break
				}
			}
			sends = append(sends, ms(time.Since(start)))
		}
	}
	b.ReportMetric(median(connectMS), "connect-ms")
	b.ReportMetric(median(sends), "sendPublic-ms")
	b.ReportMetric(float64(len(sends)), "sends")
	if s.Environments != nil {
		mu.Lock()
		b.ReportMetric(median(inits), "init-ms")
		b.ReportMetric(median(firsts), "first-event-ms")
		mu.Unlock()
		b.ReportMetric(float64(s.Environments.Stats().Started), "environments")
	}
}

// hostBootstrap builds the deployed binary for this machine, as
// `LAMBDA=env make dev` does.
func hostBootstrap(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	build := exec.Command("../../scripts/build-lambda.sh", dir)
	build.Env = append(os.Environ(), "LAMBDA_GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("scripts/build-lambda.sh: %v\n%s", err, out)
	}
	return filepath.Join(dir, "bootstrap")
}
