package lambdaenv_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/local/lambdaenv"
)

// cgroupOf is pid's group under the v1 controller named ctl, from
// /proc/PID/cgroup.
func cgroupOf(t *testing.T, pid int, ctl string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && parts[1] == ctl {
			return parts[2]
		}
	}
	t.Fatalf("process %d is in no %s cgroup:\n%s", pid, ctl, data)
	return ""
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func TestEachEnvironmentIsHeldToItsMemorysCPUShare(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("not root: cgroups cannot be made, the environments run without limits")
	}
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{MemoryMB: 512})
	if !svc.Limited() {
		t.Skipf("cgroups are absent here: %s", svc.Limits())
	}
	a := invoke(ctx, t, svc, `{}`)
	cpu := filepath.Join("/sys/fs/cgroup/cpu", cgroupOf(t, a.PID, "cpu"))
	// 512/1769 of a vCPU: 28942 µs of each 100000 µs.
	if q, p := read(t, filepath.Join(cpu, "cpu.cfs_quota_us")), read(t, filepath.Join(cpu, "cpu.cfs_period_us")); q != "28942" || p != "100000" {
		t.Errorf("%s: quota %s of period %s, want 28942 of 100000 (0.29 vCPU)", cpu, q, p)
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		mem := filepath.Join("/sys/fs/cgroup/memory", cgroupOf(t, a.PID, "memory"))
		if l := read(t, filepath.Join(mem, "memory.limit_in_bytes")); l != strconv.Itoa(512<<20) {
			t.Errorf("%s: memory limit %s, want 512 MB", mem, l)
		}
	}
	if !strings.Contains(svc.Limits(), "0.29 vCPU") {
		t.Errorf("Limits() = %q, want it to name 0.29 vCPU", svc.Limits())
	}
}

func TestTheGroupsOfAServiceWhoseProcessEndedAreRemoved(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cgroups cannot be made")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err != nil {
		t.Skip("no cgroup v1 cpu controller here")
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	// A service of process gone.Process.Pid, killed before it closed.
	orphan := filepath.Join("/sys/fs/cgroup/cpu", "groupchat-lambda-"+strconv.Itoa(gone.Process.Pid)+"-1")
	if err := os.MkdirAll(filepath.Join(orphan, "env-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(filepath.Join(orphan, "env-1")); _ = os.Remove(orphan) })
	svc := start(t, lambdaenv.Config{})
	if !svc.Limited() {
		t.Skipf("cgroups are absent here: %s", svc.Limits())
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("%s after a new service started: %v, want it removed", orphan, err)
	}
}

// Where cgroups cannot be made (here: a cgroup root with no cpu
// controller, as for a user who is not root or a cgroup v2 host), the
// environments still run, without a quota, and the service says so in the
// words the stack prints on its console.
func TestWithoutCgroupsTheEnvironmentsRunWithoutAQuotaAndSaySo(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	svc := start(t, lambdaenv.Config{MemoryMB: 512, CgroupRoot: t.TempDir()})
	if svc.Limited() {
		t.Fatalf("limited without a cpu controller: %s", svc.Limits())
	}
	for _, want := range []string{"NO CPU QUOTA", "not permitted here", "no cgroup v1 cpu controller", "not 0.29 vCPU"} {
		if !strings.Contains(svc.Limits(), want) {
			t.Errorf("Limits() = %q, want it to say %q", svc.Limits(), want)
		}
	}
	if a := invoke(ctx, t, svc, `{}`); a.PID == 0 || a.Count != 1 {
		t.Errorf("an invocation without cgroups answered %+v", a)
	}
}
