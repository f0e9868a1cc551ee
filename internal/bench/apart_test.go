package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/load"
)

// apartWatch is what runApart tells of the child's progress: sending when
// its sends begin, broadcast each time it sends one (with the time it says
// it did), sent when every member had every broadcast (before its clients
// leave).
type apartWatch struct {
	sending, sent func()
	broadcast     func(time.Time)
}

// runApart runs cfg's clients in a child process (cmd/load, built once)
// and returns its result, failing unless every message reached every
// member. The child waits 3 s after its fill for the room index to catch
// up (in this process the DynamoDB proxy says when it has).
func runApart(b *testing.B, cfg load.Config, watch apartWatch) *load.Result {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "load")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/load").CombinedOutput(); err != nil {
		b.Fatalf("build cmd/load: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "result.json")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	args := []string{bin}
	if *clientsIdle {
		args = append([]string{"nice", "-n", "19"}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], append(args[1:], "-url", cfg.URL, "-clients", strconv.Itoa(cfg.Clients), "-room-size", strconv.Itoa(cfg.RoomSize),
		"-broadcasts", strconv.Itoa(cfg.Broadcasts), "-connect-concurrency", strconv.Itoa(cfg.ConnectConcurrency),
		"-drain", cfg.Drain.String(), "-settle", "3s", "-timeout", "30m", "-json", out)...)
	cmd.Stdout, cmd.Stderr = progress(), &phaseWatch{out: progress(), then: map[string]func(){"send": watch.sending, "done": watch.sent},
		broadcast: watch.broadcast}
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

// phaseWatch passes cmd/load's progress lines on to out (nil: nowhere),
// calls then[phase] once, at the first line that says phase, and broadcast
// at each line that says a broadcast was sent ("load: broadcast 2 at
// UNIXNANO").
type phaseWatch struct {
	out       io.Writer
	then      map[string]func()
	broadcast func(time.Time)
	partial   []byte
}

func (w *phaseWatch) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		line, rest, ok := bytes.Cut(w.partial, []byte("\n"))
		if !ok {
			break
		}
		switch f := strings.Fields(string(line)); {
		case len(f) == 5 && f[0] == "load:" && f[1] == "broadcast" && f[3] == "at":
			if at, err := strconv.ParseInt(f[4], 10, 64); err == nil && w.broadcast != nil {
				w.broadcast(time.Unix(0, at))
			}
		case len(f) > 2 && f[0] == "load:" && w.then[f[2]] != nil:
			then := w.then[f[2]]
			delete(w.then, f[2])
			then()
		}
		w.partial = rest
	}
	if w.out != nil {
		return w.out.Write(p)
	}
	return len(p), nil
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

// The child's progress tells when its sends begin, when each broadcast
// was sent (by its clock, which is this machine's), and when every member
// had every one, even when a line arrives in pieces.
func TestPhaseWatchTellsThePhasesAndEachBroadcast(t *testing.T) {
	var got []string
	w := &phaseWatch{
		then:      map[string]func(){"send": func() { got = append(got, "send") }, "done": func() { got = append(got, "done") }},
		broadcast: func(at time.Time) { got = append(got, "broadcast "+strconv.FormatInt(at.UnixNano(), 10)) },
	}
	for _, part := range []string{"load:  82.5s send      clients 4/4\nload:  82.6s send  clients 4/4\nload: broad", "cast 0 at 1765000000123456789\n",
		"load: broadcast 1 at 1765000001000000000\nload:  86.9s drain clients 4/4\nload:  86.9s done  clients\nload:  87.0s done clients\n"} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	want := "send, broadcast 1765000000123456789, broadcast 1765000001000000000, done"
	if s := strings.Join(got, ", "); s != want {
		t.Errorf("the watch told %q, want %q", s, want)
	}
}
