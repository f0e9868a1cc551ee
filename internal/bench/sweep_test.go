package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/load"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/wire"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/gateway"
)

// The fan-out sweep of issue 16: every pool size at every management API
// latency, for rooms of 1,000 and 10,000.
var (
	sweepPools     = []int{32, 64, 128, 256}
	sweepLatencies = []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond}
	sweepRuns      = flag.Int("bench.sweepruns", 3, "broadcasts per cell of the fan-out sweeps (the median is reported)")
)

// BenchmarkFanoutSweep: the handler alone (chattest: dynalite and a
// management API stand-in over HTTP, no WebSocket clients), one sendPublic
// to a room of 1,000 or 10,000 members through a pool of 32, 64, 128 or 256,
// every management API call delayed 0, 20 or 50 ms. fanout-ms is the fan-out's
// wall time (the FanoutDuration metric: from the first post to the last
// answer), invocation-ms the whole invocation's (the room's Query included);
// each the median of -bench.sweepruns broadcasts. The room is written
// straight to the table (filling it by joins would cost n²/2 deliveries).
// Run it with -benchtime 1x.
func BenchmarkFanoutSweep(b *testing.B) {
	for _, size := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("room=%d", size), func(b *testing.B) {
			h := chattest.New(b)
			h.GW.Discard = true
			ids := fillRoom(b, h, "sweep", size)
			for _, latency := range sweepLatencies {
				for _, pool := range sweepPools {
					b.Run(fmt.Sprintf("latency=%dms/pool=%d", latency.Milliseconds(), pool), func(b *testing.B) {
						var metrics testkit.Buffer
						opt := chat.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: &metrics}
						chattest.Unlimited(&opt) // one sender, many broadcasts
						h.Service = wire.New(wire.Config{Tables: h.Tables, ManagementEndpoint: h.GW.URL,
							DynamoDBEndpoint: h.DynamoDB.Endpoint(), PoolSize: pool}, local.AWSConfig(), opt)
						h.Send(ids[0], `{"action":"sendPublic","message":"warm up"}`) // open the connections
						h.GW.Latency = latency
						defer func() { h.GW.Latency = 0 }()
						for b.Loop() {
							var fanouts, invocations []float64
							for range *sweepRuns {
								posts := h.GW.Posts()
								start := time.Now()
								h.Send(ids[0], `{"action":"sendPublic","message":"sweep"}`)
								invocations = append(invocations, ms(time.Since(start)))
								if n := h.GW.Posts() - posts; n != int64(size) {
									b.Fatalf("%d posts for a room of %d", n, size)
								}
								fanouts = append(fanouts, lastFanout(b, metrics.String()))
							}
							b.ReportMetric(median(fanouts), "fanout-ms")
							b.ReportMetric(median(invocations), "invocation-ms")
						}
					})
				}
			}
		})
	}
}

// BenchmarkFanoutSweepStack: the whole local stack with 1,000 real
// WebSocket clients in one room: for every latency and pool size,
// -bench.sweepruns broadcasts, reporting the median time from the send to
// the last member's receiving it (last-ms), as the clients measure it. The
// room is filled once, with no latency; the pool and the latency are
// switched between broadcasts. Run it with -benchtime 1x.
func BenchmarkFanoutSweepStack(b *testing.B) {
	const size = 1000
	s := startStack(b, local.Options{Gateway: gateway.Config{HandlerTimeout: 2 * time.Minute}})
	type cell struct {
		latency time.Duration
		pool    int
	}
	var cells []cell
	for _, latency := range sweepLatencies {
		for _, pool := range sweepPools {
			for range *sweepRuns {
				cells = append(cells, cell{latency, pool})
			}
		}
	}
	for b.Loop() {
		res := run(b, load.Config{URL: s.URL, Clients: size, RoomSize: size, Broadcasts: len(cells),
			ConnectConcurrency: 4, Progress: progress(), Drain: 2 * time.Minute,
			BeforeBroadcast: func(i int) {
				s.SetLatency(cells[i].latency)
				s.SetPoolSize(cells[i].pool)
			},
		})
		if !res.Complete {
			b.Fatalf("not every message reached every member: %+v %+v", res.Messages, res.Deliveries)
		}
		for i := 0; i < len(cells); i += *sweepRuns {
			c := cells[i]
			b.Run(fmt.Sprintf("room=%d/latency=%dms/pool=%d", size, c.latency.Milliseconds(), c.pool), func(b *testing.B) {
				for b.Loop() {
					b.ReportMetric(median(res.BroadcastMS[i:i+*sweepRuns]), "last-ms")
				}
			})
		}
	}
}

// fillRoom puts n members in room, written in parallel, with their
// gateway connections open, and returns their ids.
func fillRoom(tb testing.TB, h *chattest.Harness, room string, n int) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	now := h.Now().Add(-time.Minute)
	ids := make([]string, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	sem := make(chan struct{}, 16)
	for i := range ids {
		ids[i] = chattest.NewConnID()
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := chat.Connection{ID: ids[i], Room: room, Name: fmt.Sprintf("member-%d", i),
				ConnectedAt: now, ExpiresAt: now.Add(2 * time.Hour), ResumeToken: "t"}
			if _, err := h.Store.ClaimName(ctx, chat.Claim{Room: c.Room, Name: c.Name, ConnID: c.ID, ExpiresAt: c.ExpiresAt}); err != nil {
				failed.Store(err)
			} else if err := h.Store.PutConnection(ctx, c); err != nil {
				failed.Store(err)
			}
			h.GW.Open(c.ID)
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		tb.Fatalf("fill the room: %v", err)
	}
	return ids
}

// lastFanout returns the longest fan-out of the last invocation's metrics
// line: the broadcast's.
func lastFanout(tb testing.TB, metrics string) float64 {
	tb.Helper()
	var last string
	for sc := bufio.NewScanner(strings.NewReader(metrics)); sc.Scan(); {
		last = sc.Text()
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(last), &line); err != nil {
		tb.Fatalf("metrics line %q: %v", last, err)
	}
	ds, _ := line[contract.MetricFanoutDuration].([]any)
	var longest float64
	for _, d := range ds {
		longest = max(longest, d.(float64))
	}
	return longest
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
