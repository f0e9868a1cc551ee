package lambdaenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// cfsPeriod is the CPU controller's period in microseconds; an
// environment's quota is its share of it.
const cfsPeriod = 100000

// CPUQuota is the cpu.cfs_quota_us that holds a function of memoryMB to its
// CPU share of a cfsPeriod (100 ms) period: memoryMB/MBPerVCPU of a vCPU,
// 28942 µs at 512 MB (0.29 vCPU).
func CPUQuota(memoryMB int) int {
	return max(cfsPeriod*memoryMB/MBPerVCPU, 1000) // the kernel's least quota is 1 ms
}

// cgroups are the service's cgroup v1 directories: a parent under the cpu
// controller (and the memory controller when there is one), with one child
// per environment.
type cgroups struct {
	memoryMB int
	cpu, mem string // parents; mem "" without the memory controller
}

var serviceSeq atomic.Int64

// groupPrefix starts the name of every service's parent group; the pid of
// the process that made it follows.
const groupPrefix = "groupchat-lambda-"

// newCgroups makes the service's parent groups under cgroupRoot (where the
// v1 controllers are mounted), or says why it cannot.
func newCgroups(cgroupRoot string, memoryMB int) (*cgroups, error) {
	name := fmt.Sprintf("%s%d-%d", groupPrefix, os.Getpid(), serviceSeq.Add(1))
	cpuRoot := filepath.Join(cgroupRoot, "cpu")
	if _, err := os.Stat(filepath.Join(cpuRoot, "cpu.cfs_quota_us")); err != nil {
		return nil, errors.New("no cgroup v1 cpu controller at " + cpuRoot)
	}
	removeOrphans(cpuRoot)
	removeOrphans(filepath.Join(cgroupRoot, "memory"))
	cg := &cgroups{memoryMB: memoryMB, cpu: filepath.Join(cpuRoot, name)}
	if err := os.Mkdir(cg.cpu, 0o755); err != nil {
		return nil, err
	}
	memRoot := filepath.Join(cgroupRoot, "memory")
	if _, err := os.Stat(filepath.Join(memRoot, "memory.limit_in_bytes")); err == nil {
		if err := os.Mkdir(filepath.Join(memRoot, name), 0o755); err == nil {
			cg.mem = filepath.Join(memRoot, name)
		}
	}
	// A trial environment's group proves the quota can be written.
	g, err := cg.create(0)
	if err != nil {
		_ = cg.remove()
		return nil, err
	}
	if err := cg.removeGroup(g); err != nil {
		return nil, err
	}
	return cg, nil
}

func (cg *cgroups) describe() string {
	s := fmt.Sprintf("each held to %.2f vCPU (cgroup v1 cpu.cfs_quota_us %d of %d)", float64(cg.memoryMB)/MBPerVCPU, CPUQuota(cg.memoryMB), cfsPeriod)
	if cg.mem == "" {
		return s + ", no memory limit (no cgroup v1 memory controller)"
	}
	return s + fmt.Sprintf(" and %d MB (memory.limit_in_bytes)", cg.memoryMB)
}

// create makes environment id's groups with their limits and returns its
// name.
func (cg *cgroups) create(id int) (string, error) {
	g := "env-" + strconv.Itoa(id)
	dir := filepath.Join(cg.cpu, g)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	err := errors.Join(
		os.WriteFile(filepath.Join(dir, "cpu.cfs_period_us"), []byte(strconv.Itoa(cfsPeriod)), 0),
		os.WriteFile(filepath.Join(dir, "cpu.cfs_quota_us"), []byte(strconv.Itoa(CPUQuota(cg.memoryMB))), 0))
	if err == nil && cg.mem != "" {
		mdir := filepath.Join(cg.mem, g)
		if err = os.Mkdir(mdir, 0o755); err == nil {
			err = os.WriteFile(filepath.Join(mdir, "memory.limit_in_bytes"), []byte(strconv.Itoa(cg.memoryMB<<20)), 0)
		}
	}
	if err != nil {
		_ = cg.removeGroup(g)
		return "", fmt.Errorf("cgroup %s: %w", dir, err)
	}
	return g, nil
}

// procs are the cgroup.procs files a process joins environment g by.
func (cg *cgroups) procs(g string) []string {
	p := []string{filepath.Join(cg.cpu, g, "cgroup.procs")}
	if cg.mem != "" {
		p = append(p, filepath.Join(cg.mem, g, "cgroup.procs"))
	}
	return p
}

// removeGroup removes environment g's groups (its process has ended).
func (cg *cgroups) removeGroup(g string) error {
	err := os.Remove(filepath.Join(cg.cpu, g))
	if cg.mem != "" {
		err = errors.Join(err, ignoreMissing(os.Remove(filepath.Join(cg.mem, g))))
	}
	return err
}

// remove removes the parents (every environment has ended).
func (cg *cgroups) remove() error {
	err := os.Remove(cg.cpu)
	if cg.mem != "" {
		err = errors.Join(err, os.Remove(cg.mem))
	}
	return err
}

func ignoreMissing(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// removeOrphans removes the groups under root left by a service whose
// process ended without closing it (killed): their environments ended with
// it (Pdeathsig), so the groups are empty.
func removeOrphans(root string) {
	dirs, _ := filepath.Glob(filepath.Join(root, groupPrefix+"*"))
	for _, dir := range dirs {
		pid, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), groupPrefix), "-")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || n <= 0 || syscall.Kill(n, 0) == nil || errors.Is(syscall.Kill(n, 0), syscall.EPERM) {
			continue // not one of ours, or its process is alive
		}
		envs, _ := filepath.Glob(filepath.Join(dir, "env-*"))
		for _, e := range envs {
			_ = os.Remove(e)
		}
		_ = os.Remove(dir)
	}
}
