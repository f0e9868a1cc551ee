package mgmt_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/groupchat/groupchat/lambda/mgmt"
)

// BenchmarkPost measures the function's cost per delivery: one broadcast's
// deliveries, the same frame to one connection after another, to a
// management API stand-in that answers 200, through the Poster the function
// builds (poster=own-first-attempt, mgmt.NewFromConfig) and, for comparison,
// through one making every call with the generated SDK client (poster=sdk,
// mgmt.New: the function's poster before issue 16). The stand-in runs in
// a process of its own (this test binary started again), so that B/op,
// allocs/op, cpu-ns/op (this process's user and system CPU time per
// delivery, from getrusage) and user-ns/op (its user time alone: the system
// time is mostly the round trip's own reads and writes, which every poster
// pays) are the function's alone; ns/op is the wall time
// of one round trip on loopback. `scripts/bench.sh post` runs it.
func BenchmarkPost(b *testing.B) {
	url := startServerProcess(b)
	posters := []struct {
		name string
		new  func(string) *mgmt.Poster
	}{{"sdk", newSDKPoster}, {"own-first-attempt", newPosterAt}}
	for _, poster := range posters {
		for _, size := range []int{200, 32 << 10} {
			b.Run(fmt.Sprintf("poster=%s/frame=%dB", poster.name, size), func(b *testing.B) {
				benchmarkPost(b, poster.new(url), size)
			})
		}
	}
}

func benchmarkPost(b *testing.B, p *mgmt.Poster, size int) {
	frame := []byte(`{"type":"public","from":"member-17","text":"` + strings.Repeat("x", size-48) + `"}`)
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("L0SM9cOF%07d=", i)
	}
	ctx := context.Background()
	// Warm up: the connection is open and the key derived, as in a warm
	// function.
	if err := p.Post(ctx, ids[0], frame); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	user, sys := cpuTime()
	i := 0
	for b.Loop() {
		if err := p.Post(ctx, ids[i%len(ids)], frame); err != nil {
			b.Fatal(err)
		}
		i++
	}
	user2, sys2 := cpuTime()
	b.ReportMetric(float64(user2-user+sys2-sys)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(user2-user)/float64(b.N), "user-ns/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

const serverProcessEnv = "MGMT_BENCH_SERVER"

// startServerProcess starts this test binary again as a management API
// stand-in answering every request 200 (TestServerProcess) and returns its
// base URL; the process ends with the benchmark (its stdin closes).
func startServerProcess(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerProcess$")
	cmd.Env = append(os.Environ(), serverProcessEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the server process: %v", err)
	}
	return "http://" + strings.TrimSpace(addr) + "/dev"
}

// TestServerProcess is the benchmark's management API stand-in when started
// by startServerProcess; in a normal test run it does nothing.
func TestServerProcess(t *testing.T) {
	if os.Getenv(serverProcessEnv) == "" {
		t.Skip("only as BenchmarkPost's server process")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = srv.Serve(ln) }()
	fmt.Println(ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark closes it
	_ = srv.Close()
	os.Exit(0)
}
