package lambdaenv

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// processCPU is the CPU time pid's threads have spent running so far: the
// sum of the first field of /proc/<pid>/task/*/schedstat (nanoseconds on a
// CPU, kept by the scheduler whatever the clock tick), so that a Report can
// say what an event cost in CPU apart from the time it waited for a share
// of one. It is 0 where /proc cannot tell (not Linux, the process gone);
// a thread that ends between two reads takes its time with it, which a Go
// process, keeping its threads, seldom does.
func processCPU(pid int) time.Duration {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue
		}
		first, _, _ := bytes.Cut(data, []byte(" "))
		ns, err := strconv.ParseInt(strings.TrimSpace(string(first)), 10, 64)
		if err == nil {
			sum += time.Duration(ns)
		}
	}
	return sum
}
