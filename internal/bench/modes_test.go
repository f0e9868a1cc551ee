package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/load"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/lambdaenv"
)

var (
	lambdaRoom   = flag.Int("bench.lambda-room", 1000, "room size in BenchmarkBroadcastModes")
	stackLog     = flag.String("bench.stack-log", "", "BenchmarkBroadcastModes: append the local stack's log to this file")
	clientsApart = flag.Bool("bench.clients-apart", false, "BenchmarkBroadcastModes: run the clients in a child process (cmd/load) even when this one may open enough files")
	clientsIdle  = flag.Bool("bench.clients-idle", false, "BenchmarkBroadcastModes, clients in a child process: run it at the lowest priority (nice 19), so that the stack and the function have the cores first, as on AWS, where the members' devices are not the function's")
	sendProfile  = flag.String("bench.send-profile", "", "BenchmarkBroadcastModes: write a CPU profile of this process during the broadcasts alone (from the end of the fill) to this file (clients apart: one a latency, the file's name followed by @0ms, @20ms)")
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
// raise) the clients run in a child process, cmd/load, once per latency,
// each against a fresh stack with that latency on from the fill.
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
			if apart {
				// A fresh stack for each latency: the first room's
				// clients leave without $disconnect (startStack), and
				// the next broadcast to that room (its settle) would
				// remove 10,000 gone connections during the second fill.
				for _, lat := range latencies {
					b.Run(fmt.Sprintf("latency=%dms", lat.Milliseconds()), func(b *testing.B) {
						s := modeStack(b, mode)
						s.SetLatency(lat)
						busiest := watchInvocations(s)
						for b.Loop() {
							res := runApart(b, load.Config{URL: s.URL, Clients: room, RoomSize: room, ConnectConcurrency: 4,
								Drain: 2 * time.Minute, Broadcasts: broadcastsPerLatency}, apartWatch{
								sending: func() {
									busiest.reset()
									startProfile(b, fmt.Sprintf("@%dms", lat.Milliseconds()))
								},
								broadcast: busiest.sendingAt,
								sent:      busiest.sent,
							})
							pprof.StopCPUProfile()
							b.ReportMetric(median(res.BroadcastMS), fmt.Sprintf("last-ms@%dms", lat.Milliseconds()))
							busiest.report(b, fmt.Sprintf("@%dms", lat.Milliseconds()))
							reportEnvironments(b, s, busiest, -1)
						}
					})
				}
				return
			}
			s := modeStack(b, mode)
			busiest := watchInvocations(s)
			for b.Loop() {
				filled := -1
				res := run(b, load.Config{URL: s.URL, Clients: room, RoomSize: room, ConnectConcurrency: 4, Drain: 2 * time.Minute,
					Broadcasts: broadcastsPerLatency * len(latencies), Progress: progress(),
					AfterJoin: func(ctx context.Context) error {
						if s.Environments != nil {
							filled = s.Environments.Stats().Started
						}
						busiest.reset()
						if err := settle(s)(ctx); err != nil {
							return err
						}
						startProfile(b, "")
						return nil
					},
					BeforeClose: busiest.sent,
					BeforeBroadcast: func(i int) {
						if i%broadcastsPerLatency == 0 && i > 0 {
							busiest.report(b, fmt.Sprintf("@%dms", latencies[i/broadcastsPerLatency-1].Milliseconds()))
						}
						s.SetLatency(latencies[i/broadcastsPerLatency])
						busiest.sending()
					},
				})
				pprof.StopCPUProfile()
				if !res.Complete {
					b.Fatalf("not every message reached every member: %+v %+v", res.Messages, res.Deliveries)
				}
				for k, lat := range latencies {
					b.ReportMetric(median(res.BroadcastMS[k*broadcastsPerLatency:(k+1)*broadcastsPerLatency]), fmt.Sprintf("last-ms@%dms", lat.Milliseconds()))
				}
				busiest.report(b, fmt.Sprintf("@%dms", latencies[len(latencies)-1].Milliseconds()))
				reportEnvironments(b, s, busiest, filled)
			}
		})
	}
}

// startProfile starts the CPU profile -bench.send-profile asks for, in
// that file with suffix added: of this process (the stack, the function in
// process mode, the clients unless they run apart), not of dynalite or the
// environments. A profile that cannot start fails the benchmark without
// ending it here (b.Error: its caller may be os/exec's goroutine copying a
// child's output, which must go on).
func startProfile(b *testing.B, suffix string) {
	if *sendProfile == "" {
		return
	}
	f, err := os.Create(*sendProfile + suffix)
	if err != nil {
		b.Error(err)
		return
	}
	b.Cleanup(func() { _ = f.Close() })
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Error(err)
	}
}

// modeStack starts a stack running the function in this process or (env)
// in execution environments at 512 MB, its log appended to -bench.stack-log,
// with the function's settings this process's environment gives.
func modeStack(b *testing.B, mode string) *localtest.Stack {
	// The function's settings from this process's environment, as
	// cmd/local passes them (FANOUT_SHARD_SIZE=100000: no shards).
	o := local.Options{Getenv: os.Getenv}
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
	return startStack(b, o)
}

// busiest keeps the largest CPU time one invocation spent in an
// environment (lambdaenv.Report.CPU) since it was last reported: in a
// broadcast, the environment that delivered the most (the sender's, or
// without shards the only one). Divided by the memory's CPU share it is the
// least that environment needs on Lambda, whatever this machine's load.
type busiest struct {
	stack *localtest.Stack
	turns *turns // -bench.in-turn: the shards' runs, each alone

	mu     sync.Mutex
	cpu    time.Duration
	dur    time.Duration
	spans  []span        // every invocation since the last report, for spanMS
	sends  []time.Time   // when each broadcast since then was sent, if known
	spent  time.Duration // every invocation's CPU since then
	billed time.Duration // every invocation's init and event since then: what Lambda bills
	from   cpuMark       // the CPU counters then
	// The end of the measured broadcasts (sent): invocations that start
	// later (the clients' leaving, each $disconnect a broadcast to the
	// room) are none of them, and the counters stop there.
	until time.Time
	to    *cpuMark
	final *ended // what the environments had done by then (nil: not yet)
}

// ended is what the environments had done when the last broadcast had
// reached every member.
type ended struct {
	stats  lambdaenv.Stats
	shards float64
}

// endedNow is what s's environments have done so far.
func endedNow(s *localtest.Stack) ended {
	return ended{s.Environments.Stats(), metricSum(s.Metrics(), contract.MetricFanoutShards)}
}

// span is when one invocation ran: from the event's hand-over to the
// environments (before a cold start's init, and any wait for a warm one's
// runtime to ask for it) to its answer.
type span struct{ start, end time.Time }

// watchInvocations observes s's environments (nil in this process).
func watchInvocations(s *localtest.Stack) *busiest {
	if s.Environments == nil {
		return nil
	}
	w := &busiest{stack: s, turns: takeTurns(s)}
	w.clear() // before any report can come
	s.Environments.Observe(func(r lambdaenv.Report) {
		end := time.Now()
		start := end.Add(-r.Duration - r.Init - r.Waited)
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.until.IsZero() && !start.Before(w.until) {
			return
		}
		w.spans = append(w.spans, span{start, end})
		w.spent += r.CPU
		w.billed += r.Init + r.Duration
		if r.CPU > w.cpu {
			w.cpu, w.dur = r.CPU, r.Duration
		}
	})
	return w
}

// report reports the busiest invocation's CPU, its length, and the time
// that CPU takes at lambdaMemory's share (suffix names the latency), then
// starts again.
func (w *busiest) report(b *testing.B, suffix string) {
	if w == nil {
		return
	}
	runs := w.turns.take() // before mu: the run in turn ends with its report, which takes mu
	// The last broadcast's last invocation may still be answering when its
	// last member has it: wait for its report.
	for quiet := time.Now().Add(10 * time.Second); w.stack.Environments.Stats().Busy > 0 && time.Now().Before(quiet); {
		time.Sleep(5 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	share := float64(lambdaMemory) / lambdaenv.MBPerVCPU
	b.ReportMetric(ms(w.cpu), "busiest-cpu-ms"+suffix)
	b.ReportMetric(ms(w.dur), "busiest-took-ms"+suffix)
	b.ReportMetric(ms(w.cpu)/share, "busiest-cpu-at-share-ms"+suffix)
	spans := spanMS(w.spans, w.sends)
	if w.turns != nil { // one environment at a time: no run of overlapping ones is a broadcast
		spans = eachAlone(w.spans, runs)
	}
	name := "function-ms"
	if w.turns != nil {
		name = "each-alone-ms"
	}
	if len(spans) > 0 { // none observed: no figure, not 0 ms
		b.ReportMetric(median(spans), name+suffix)
		b.ReportMetric(ms(w.billed)/float64(len(spans)), "billed-ms"+suffix)
	}
	to := markCPU()
	if w.to != nil {
		to = *w.to
	}
	reportCPU(b, w.from, to, w.spent, len(spans), suffix)
	w.clear()
}

// clear starts a new window: nothing observed, the CPU counters read now.
// Its caller holds mu.
func (w *busiest) clear() {
	w.cpu, w.dur, w.spans, w.sends, w.spent, w.billed, w.from = 0, 0, nil, nil, 0, 0, markCPU()
	w.until, w.to = time.Time{}, nil
}

// sending notes that a broadcast is sent now.
func (w *busiest) sending() { w.sendingAt(time.Now()) }

// sendingAt notes that a broadcast was sent at t.
func (w *busiest) sendingAt(t time.Time) {
	if w == nil {
		return
	}
	w.turns.start()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sends = append(w.sends, t)
}

// spanMS returns each broadcast's length in ms: from its first
// invocation's start (its event's hand-over: the sender's sendPublic) to its
// last one's answer (the last shard's), the time the function took to
// deliver it. sends are when each broadcast was sent, in order: broadcast
// k's invocations are those that started from sends[k] to sends[k+1]. Each
// broadcast is sent once every member had the one before, so every
// invocation of that one had started by then, but not answered: the next
// one's sender may start while the last one's answer is on its way (held
// back by its CPU quota). An invocation that started before sends[0] (the
// last report's last broadcast, a settle batch of the fill) is none of
// them. Without sends (the clients in a child process, which does not say
// when it sends each), a broadcast is a run of overlapping invocations,
// and two run together when the next started before the last answered.
func spanMS(spans []span, sends []time.Time) []float64 {
	slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
	if len(sends) == 0 {
		return overlapMS(spans)
	}
	var out []float64
	i := 0
	for i < len(spans) && spans[i].start.Before(sends[0]) {
		i++
	}
	for k := range sends {
		var first, end time.Time
		n := 0
		for ; i < len(spans) && (k+1 == len(sends) || spans[i].start.Before(sends[k+1])); i++ {
			if n == 0 {
				first = spans[i].start
			}
			if n == 0 || spans[i].end.After(end) {
				end = spans[i].end
			}
			n++
		}
		if n > 0 {
			out = append(out, ms(end.Sub(first)))
		}
	}
	return out
}

// overlapMS is spanMS without the sends: spans sorted by start, each run of
// overlapping ones a broadcast.
func overlapMS(spans []span) []float64 {
	var out []float64
	for i := 0; i < len(spans); {
		first, end := spans[i].start, spans[i].end
		for i++; i < len(spans) && !spans[i].start.After(end); i++ {
			if spans[i].end.After(end) {
				end = spans[i].end
			}
		}
		out = append(out, ms(end.Sub(first)))
	}
	return out
}

// sent notes that the last broadcast has reached every member: the
// clients' leaving, which broadcasts too, is not measured.
func (w *busiest) sent() {
	if w == nil {
		return
	}
	until, to := time.Now(), markCPU()
	w.mu.Lock()
	w.until, w.to = until, &to // first: reading the metrics takes a while
	w.mu.Unlock()
	fin := endedNow(w.stack)
	w.turns.stop() // may wait for a shard of the leaving: after every count
	w.mu.Lock()
	defer w.mu.Unlock()
	w.final = &fin
}

// reset forgets the invocations so far (the fill's).
func (w *busiest) reset() {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.clear()
	w.final = nil
	w.mu.Unlock()
	w.turns.start()
}

// reportEnvironments reports how many environments started (after the fill,
// when known: filled ≥ 0, and in all) and how many invocations ended in
// each kind of failure, and how many fan-out shards the broadcasts handed
// to other environments: until the last broadcast had reached every
// member, when w knows that moment.
func reportEnvironments(b *testing.B, s *localtest.Stack, w *busiest, filled int) {
	if s.Environments == nil {
		return
	}
	fin := endedNow(s)
	w.mu.Lock()
	if w.final != nil {
		fin = *w.final
	}
	w.mu.Unlock()
	b.ReportMetric(fin.shards, "shards")
	st := fin.stats
	if filled >= 0 {
		b.ReportMetric(float64(filled), "envs-fill")
	}
	b.ReportMetric(float64(st.Started), "envs-total")
	b.ReportMetric(float64(st.Timeouts), "env-timeouts")
	b.ReportMetric(float64(st.Exits), "env-exits")
	b.ReportMetric(float64(st.InitErrors), "env-init-errors")
	b.ReportMetric(float64(st.Throttles), "env-throttles")
}

// metricSum adds up a metric's values in the function's EMF lines.
func metricSum(emf, name string) float64 {
	var sum float64
	for line := range strings.Lines(emf) {
		var doc map[string]any
		if json.Unmarshal([]byte(line), &doc) == nil {
			if v, ok := doc[name].(float64); ok {
				sum += v
			}
		}
	}
	return sum
}
