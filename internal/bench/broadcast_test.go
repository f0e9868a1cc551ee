package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/load"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/gateway"
)

var (
	broadcasts = flag.Int("bench.broadcasts", 20, "broadcasts per room size in BenchmarkBroadcast")
	verbose    = flag.Bool("bench.progress", false, "show the load tool's progress on stderr")
)

func progress() io.Writer {
	if *verbose {
		return &stderrWriter{}
	}
	return nil
}

// startStack starts an in-process local stack whose $disconnects are
// skipped: a benchmark's clients all leave at once at the end, and the
// "left" broadcasts (n² deliveries for a room of n) measure nothing.
func startStack(b *testing.B, o local.Options) *localtest.Stack {
	b.Helper()
	o.Gateway.Faults.DropDisconnect = func(string) bool { return true }
	return localtest.Start(b, o)
}

// BenchmarkBroadcast: one member of a room of 10, 100 or 1,000 real
// WebSocket clients sends a public message; the latency is from the send to
// each member's receiving it, over -bench.broadcasts broadcasts, one at a
// time. Run it with -benchtime 1x: an iteration is a whole load run (the
// room is filled once).
func BenchmarkBroadcast(b *testing.B) {
	for _, size := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("room=%d", size), func(b *testing.B) {
			s := startStack(b, local.Options{})
			for b.Loop() {
				res := run(b, load.Config{URL: s.URL, Clients: size, RoomSize: size, Broadcasts: *broadcasts,
					ConnectConcurrency: 4, Progress: progress(), AfterJoin: settle(s)})
				if !res.Complete {
					b.Fatalf("not every message reached every member: %+v %+v", res.Messages, res.Deliveries)
				}
				l := res.LatencyMS
				b.ReportMetric(l.P50, "p50-ms")
				b.ReportMetric(l.P95, "p95-ms")
				b.ReportMetric(l.P99, "p99-ms")
				b.ReportMetric(l.Max, "max-ms")
				b.ReportMetric(float64(l.Count), "deliveries")
				b.ReportMetric(res.Connect.PerSecond, "connects/s")
			}
		})
	}
}

// BenchmarkFanoutPool: in one room of 1,000 clients, with every management
// API call delayed 20 ms (about AWS's latency; loopback answers in
// microseconds, which would make any pool look pointless), one broadcast
// through the default bounded pool (32) and one strictly sequential (pool
// size 1). It reports the time until the last member had the message for
// each, and their ratio. The room is filled before the latency is switched
// on. Run it with -benchtime 1x.
func BenchmarkFanoutPool(b *testing.B) {
	const size, latency = 1000, 20 * time.Millisecond
	// A sequential fan-out to 1,000 members takes 20 s and more; give the
	// invocation room (on AWS its 29 s would be the limit).
	s := startStack(b, local.Options{Gateway: gateway.Config{HandlerTimeout: 2 * time.Minute}})
	pools := []int{32, 32, 32, 1}
	for b.Loop() {
		res := run(b, load.Config{URL: s.URL, Clients: size, RoomSize: size, Broadcasts: len(pools),
			ConnectConcurrency: 4, Progress: progress(), Drain: 2 * time.Minute,
			AfterJoin: func(ctx context.Context) error {
				if err := settle(s)(ctx); err != nil {
					return err
				}
				s.SetLatency(latency)
				return nil
			},
			BeforeBroadcast: func(i int) { s.SetPoolSize(pools[i]) },
		})
		if !res.Complete {
			b.Fatalf("not every message reached every member: %+v %+v", res.Messages, res.Deliveries)
		}
		pooled := slices.Sorted(slices.Values(res.BroadcastMS[:3]))[1] // the median of three
		sequential := res.BroadcastMS[3]
		b.ReportMetric(pooled, "pool32-ms")
		b.ReportMetric(sequential, "pool1-ms")
		b.ReportMetric(sequential/pooled, "ratio")
	}
}

// settle waits, once the room is full, until the stack's DynamoDB (AWS-like,
// as every localtest stack) shows every join in the room index: a
// broadcast goes to the members the index lists, which may lag behind the
// last joins as on AWS, and a page's settle hello would repair what the
// load tool's clients do not. The lag is then in the room, not in the
// figures: a broadcast's latency is measured with the faults on.
func settle(s *localtest.Stack) func(context.Context) error {
	return func(ctx context.Context) error { return s.DynamoDBProxy.Settle(ctx) }
}

func run(b *testing.B, cfg load.Config) *load.Result {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	res, err := load.Run(ctx, cfg)
	if err != nil {
		b.Fatalf("load run: %v", err)
	}
	return res
}

type stderrWriter struct{}

func (stderrWriter) Write(p []byte) (int, error) { return os.Stderr.Write(p) }
