package bench

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuMark is where the CPU counters stood at some moment: the machine's
// (every core's busy time, /proc/stat) and this process's (the stack: its
// gateway, DynamoDB proxy and the environments' supervisor; in process
// mode the function too).
type cpuMark struct {
	machine, self time.Duration
	ok            bool
}

// markCPU reads the counters now.
func markCPU() cpuMark {
	var m cpuMark
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		m.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	m.machine, m.ok = machineBusy()
	return m
}

// machineBusy is the time every core of the machine spent busy (user,
// nice, system, irq, softirq, steal: not idle or iowait), from /proc/stat's
// first line, in the kernel's ticks of 1/100 s (USER_HZ is 100 on Linux).
func machineBusy() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, true
}

// reportCPU reports, per broadcast of the n from from to now, the CPU the whole
// machine spent (machine-cpu-ms), this process (stack-cpu-ms) and the
// environments (envs-cpu, the sum of their reports' CPU): what the
// broadcasts cost the machine's cores, whoever spent it. The rest of the
// machine's is dynalite's, the clients' and anything else running.
func reportCPU(b *testing.B, from, now cpuMark, envs time.Duration, n int, suffix string) {
	if n == 0 {
		return
	}
	per := func(d time.Duration) float64 { return ms(d) / float64(n) }
	if from.ok && now.ok {
		b.ReportMetric(per(now.machine-from.machine), "machine-cpu-ms"+suffix)
	}
	b.ReportMetric(per(now.self-from.self), "stack-cpu-ms"+suffix)
	b.ReportMetric(per(envs), "envs-cpu-ms"+suffix)
}
