package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/load"
	"github.com/groupchat/groupchat/local"
)

var (
	lambdaRoom   = flag.Int("bench.lambda-room", 1000, "room size in BenchmarkBroadcastModes")
	stackLog     = flag.String("bench.stack-log", "", "BenchmarkBroadcastModes: append the local stack's log to this file")
	clientsApart = flag.Bool("bench.clients-apart", false, "BenchmarkBroadcastModes: run the clients in a child process (cmd/load) even when this one may open enough files")
)

// BenchmarkBroadcastModes: a room of -bench.lambda-room (1,000) real
// WebSocket clients is filled, then broadcastsPerLatency public messages
// are sent one at a time with the management API answering at once and as
// many with every call delayed 20 ms, in this process and in execution
// environments at 512 MB's CPU share. It reports the median time from a
// send to its last delivery at each latency and how many environments the
// fill and the broadcasts started. Run it with -benchtime 1x.
//
// Every client's socket and the stack's end of it are both in this process
// when it may open enough files (about 2 a member); otherwise (a room of
// 10,000 against a limit of 20,000 that only root outside a container may
// raise) the clients run in a child process, cmd/load, once per latency:
// the room is filled once for each, with that latency on.
func BenchmarkBroadcastModes(b *testing.B) {
	const broadcastsPerLatency = 3
	latencies := []time.Duration{0, 20 * time.Millisecond}
	room := *lambdaRoom
	apart := *clientsApart || openFiles(b) < uint64(2*room+1000)
	if apart {
		enoughFiles(b, room+1000)
	}
	for _, mode := range []string{"inprocess", "env"} {
		b.Run(fmt.Sprintf("mode=%s/room=%d", mode, room), func(b *testing.B) {
			o := local.Options{}
			if *stackLog != "" {
				f, err := os.OpenFile(*stackLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = f.Close() })
				o.Log = f
			}
			if mode == "env" {
				o.Environments = &local.Environments{Bootstrap: hostBootstrap(b), MemoryMB: lambdaMemory}
			}
			s := startStack(b, o)
			for b.Loop() {
				cfg := load.Config{URL: s.URL, Clients: room, RoomSize: room, ConnectConcurrency: 4, Drain: 2 * time.Minute}
				var last [][]float64
				filled := -1
				if apart {
					for _, lat := range latencies {
						s.SetLatency(lat)
						cfg.Broadcasts = broadcastsPerLatency
						res := runApart(b, cfg)
						last = append(last, res.BroadcastMS)
						if filled < 0 && s.Environments != nil {
							filled = s.Environments.Stats().Started
						}
					}
				} else {
					cfg.Broadcasts, cfg.Progress = broadcastsPerLatency*len(latencies), progress()
					cfg.AfterJoin = func(ctx context.Context) error {
						if s.Environments != nil {
							filled = s.Environments.Stats().Started
						}
						return settle(s)(ctx)
					}
					cfg.BeforeBroadcast = func(i int) { s.SetLatency(latencies[i/broadcastsPerLatency]) }
					res := run(b, cfg)
					if !res.Complete {
						b.Fatalf("not every message reached every member: %+v %+v", res.Messages, res.Deliveries)
					}
					for k := range latencies {
						last = append(last, res.BroadcastMS[k*broadcastsPerLatency:(k+1)*broadcastsPerLatency])
					}
				}
				for k, lat := range latencies {
					b.ReportMetric(median(last[k]), fmt.Sprintf("last-ms@%dms", lat.Milliseconds()))
				}
				if s.Environments != nil {
					st := s.Environments.Stats()
					b.ReportMetric(float64(filled), "envs-fill")
					b.ReportMetric(float64(st.Started), "envs-total")
					b.ReportMetric(float64(st.Timeouts), "env-timeouts")
					b.ReportMetric(float64(st.Exits), "env-exits")
					b.ReportMetric(float64(st.InitErrors), "env-init-errors")
					b.ReportMetric(float64(st.Throttles), "env-throttles")
					b.ReportMetric(float64(st.Recycled), "envs-recycled")
				}
			}
		})
	}
}

// runApart runs cfg's clients in a child process (cmd/load, built once)
// and returns its result, failing unless every message reached every
// member. The child waits 3 s after its fill for the room index to catch
// up (in this process the DynamoDB proxy says when it has).
func runApart(b *testing.B, cfg load.Config) *load.Result {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "load")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/load").CombinedOutput(); err != nil {
		b.Fatalf("build cmd/load: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "result.json")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-url", cfg.URL, "-clients", strconv.Itoa(cfg.Clients), "-room-size", strconv.Itoa(cfg.RoomSize),
		"-broadcasts", strconv.Itoa(cfg.Broadcasts), "-connect-concurrency", strconv.Itoa(cfg.ConnectConcurrency),
		"-drain", cfg.Drain.String(), "-settle", "3s", "-timeout", "30m", "-json", out)
	cmd.Stdout, cmd.Stderr = progress(), progress()
	err := cmd.Run()
	data, rerr := os.ReadFile(out)
	if rerr != nil {
		b.Fatalf("cmd/load: %v (no result: %v)", err, rerr)
	}
	var res load.Result
	if err := json.Unmarshal(data, &res); err != nil {
		b.Fatalf("cmd/load's result: %v", err)
	}
	if !res.Complete {
		b.Fatalf("not every message reached every member: %+v %+v", res.Messages, res.Deliveries)
	}
	return &res
}

// openFiles is how many files this process may open (Go raises its soft
// limit to the hard one at start).
func openFiles(b *testing.B) uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		b.Fatalf("read the open-files limit: %v", err)
	}
	return r.Cur
}

// enoughFiles stops a benchmark at once, saying what to do, when this
// process may not open n files (at the limit the stack's listener only logs
// "too many open files" and the fill never ends).
func enoughFiles(b *testing.B, n int) {
	if have := openFiles(b); have < uint64(n) {
		b.Fatalf("this room needs about %d open files and the limit is %d: raise it first (as root: ulimit -n %d)", n, have, n)
	}
}
