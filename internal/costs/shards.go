package costs

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// The inputs of the shard section: a broadcast's CPU per delivery (the
// deployed binary in an execution environment: 94–98 ms of CPU for a room
// of 1,000, internal/bench BenchmarkBroadcastModes' busiest-cpu-ms,
// docs/benchmarks.md; the post alone is 74 µs, lambda/mgmt BenchmarkPost),
// the management API's time per call
// as the load benchmarks delay it, and Lambda's CPU share: one vCPU at
// 1,769 MB, in proportion below.
const (
	shardRoom        = 10_000
	cpuPerDelivery   = 95 * time.Microsecond
	callLatency      = 20 * time.Millisecond
	fullVCPUMemoryMB = 1769
)

// measuredBroadcasts are what internal/bench BenchmarkBroadcastModes
// measured of a message to shardRoom members at 20 ms per management call,
// each environment on its own share (docs/benchmarks.md, Each environment on
// its own share): the time from the send to the last delivery
// (each-alone-ms; without shards the one environment's function-ms) and what
// Lambda bills for it, every invocation's init and event added up
// (billed-ms). One run's medians there (series B, 2026-12-06), not a model.
var measuredBroadcasts = []struct {
	name        string
	took        time.Duration
	billed      time.Duration
	invocations int
}{
	{"one invocation, 512 MB", 2525 * time.Millisecond, 2540 * time.Millisecond, 1},
	{"10 shards, 512 MB, warm environments", 616 * time.Millisecond, 3806 * time.Millisecond, 10},
	{"10 shards, 512 MB, every shard a cold start", 753 * time.Millisecond, 3828 * time.Millisecond, 10},
}

// broadcastPlan is one way to deliver a message to shardRoom members.
type broadcastPlan struct {
	name        string
	memoryMB    int
	invocations int // the sender's and its shards'
}

// shardCost is what one plan's broadcast takes: CPU-seconds, the wall time
// of each invocation (its CPU at its share, or the pool's waiting on the
// management API, whichever is longer: the pool's calls wait while the CPU
// works), and Lambda's GB-seconds and price.
type shardCost struct {
	cpu, wall, gbs, usd float64
}

func (p broadcastPlan) cost() shardCost {
	each := shardRoom / p.invocations
	share := float64(p.memoryMB) / fullVCPUMemoryMB
	cpu := float64(each) * cpuPerDelivery.Seconds()
	waiting := math.Ceil(float64(each)/float64(contract.DefaultFanoutPoolSize)) * callLatency.Seconds()
	wall := math.Max(cpu/share, waiting)
	gbs := float64(p.invocations) * wall * float64(p.memoryMB) / 1024
	return shardCost{cpu: cpu * float64(p.invocations), wall: wall, gbs: gbs,
		usd: gbs*PriceGBSecondArm64 + float64(p.invocations)*PriceLambdaRequestM/1e6}
}

// WriteShards writes the section on a message to a room of 10,000 in shards
// (docs/design.md, Fan-out shards), computed, not measured.
func WriteShards(w io.Writer) {
	plans := []broadcastPlan{
		{"one invocation, 512 MB", 512, 1},
		{fmt.Sprintf("%d shards, 512 MB", shardRoom/contract.FanoutShardSize), 512, shardRoom / contract.FanoutShardSize},
		{fmt.Sprintf("one invocation, %s MB (1 vCPU)", num(fullVCPUMemoryMB)), fullVCPUMemoryMB, 1},
	}
	costs := make([]shardCost, len(plans))
	for i, p := range plans {
		costs[i] = p.cost()
	}
	row := func(name string, cell func(p broadcastPlan, c shardCost) string) {
		fmt.Fprintf(w, "| %s |", name)
		for i, p := range plans {
			fmt.Fprintf(w, " %s |", cell(p, costs[i]))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "## A message to 10,000 in shards (issue 27)\n\n")
	fmt.Fprintf(w, "Computed (`internal/costs` WriteShards), not measured on AWS: %s of CPU per delivery (the deployed binary\n"+
		"in an execution environment at 512 MB: docs/benchmarks.md, The function as Lambda runs it), %s per management\n"+
		"call, prod's pool of %d calls in flight, Lambda's CPU share in proportion to memory (1 vCPU at %s MB), each\n"+
		"invocation as long as its CPU at its share or its pool's waiting, whichever is longer. A shard is a slice of\n"+
		"%s connections (`contract.FanoutShardSize`); the local figures are in docs/benchmarks.md (the same section).\n\n",
		cpuPerDelivery, callLatency, contract.DefaultFanoutPoolSize, num(fullVCPUMemoryMB), num(float64(contract.FanoutShardSize)))
	fmt.Fprintf(w, "| |")
	for _, p := range plans {
		fmt.Fprintf(w, " %s |", p.name)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---:|", len(plans)))
	row("CPU for 10,000 deliveries", func(p broadcastPlan, c shardCost) string { return fmt.Sprintf("%.2f CPU-s", c.cpu) })
	row("wall time, send to last delivery (plus a cold start where no environment is warm)", func(p broadcastPlan, c shardCost) string {
		return fmt.Sprintf("≈ %.2f s", c.wall)
	})
	row("Lambda GB-s", func(p broadcastPlan, c shardCost) string { return fmt.Sprintf("%.2f", c.gbs) })
	row("Lambda requests", func(p broadcastPlan, c shardCost) string { return num(float64(p.invocations)) })
	row("USD per message, Lambda only", func(p broadcastPlan, c shardCost) string { return fmt.Sprintf("$%.7f", c.usd) })
	fmt.Fprintf(w, "\nMeasured here (`internal/bench` BenchmarkBroadcastModes with `-bench.in-turn`, %s per management call, the\n"+
		"deployed binary at 512 MB's CPU share: docs/benchmarks.md, Each environment on its own share):\n\n", callLatency)
	fmt.Fprintf(w, "| measured | send to last delivery | Lambda billed (every invocation's init and event) | Lambda GB-s | USD per message, Lambda only |\n|---|---:|---:|---:|---:|\n")
	for _, m := range measuredBroadcasts {
		gbs := m.billed.Seconds() * 512 / 1024
		fmt.Fprintf(w, "| %s | %s ms | %s ms | %.2f | $%.7f |\n", m.name, num(float64(m.took.Milliseconds())), num(float64(m.billed.Milliseconds())),
			gbs, gbs*PriceGBSecondArm64+float64(m.invocations)*PriceLambdaRequestM/1e6)
	}
	apigw := float64(shardRoom+1) * PriceMessageMillion / 1e6
	small := broadcastPlan{"", 512, 1}
	one, sharded := measuredBroadcasts[0], measuredBroadcasts[1]
	fmt.Fprintf(w, "\nAPI Gateway's %s messages ($%.3f) are the same in every row and dominate. Computed, while a broadcast is\n"+
		"CPU-bound at 512 MB, shards cost the same GB-s as one invocation, spread over %d environments, and %d requests\n"+
		"more; measured, they bill %.1f times one invocation's time: each shard waits for its own rounds of calls (%s\n"+
		"over %d in flight) and starts its own runtime, where one invocation's CPU works while its calls wait. A\n"+
		"bigger memory size shortens the CPU but the management API's waiting then sets the time, and every small\n"+
		"message pays %.1f times as much per millisecond (%s MB against %d).\n\n",
		num(float64(shardRoom+1)), apigw, plans[1].invocations, plans[1].invocations-1,
		sharded.billed.Seconds()/one.billed.Seconds(), num(float64(contract.FanoutShardSize)), contract.DefaultFanoutPoolSize,
		float64(fullVCPUMemoryMB)/float64(small.memoryMB), num(fullVCPUMemoryMB), small.memoryMB)
}
