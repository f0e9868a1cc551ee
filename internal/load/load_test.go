package load

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/gateway"
)

func TestSteadyRunAgainstTheLocalStackIsComplete(t *testing.T) {
	t.Parallel()
	s := localtest.Start(t, local.Options{})
	var stdout, stderr bytes.Buffer
	code := Main(testkit.Context(t, 90*time.Second), []string{"-url", s.URL, "-clients", "25", "-room-size", "10", "-rate", "20",
		"-duration", "2s", "-json", t.TempDir() + "/result.json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"25 connected, 0 failed", "40 sent", "0 lost, 0 duplicates, 0 misdelivered", "COMPLETE"} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary does not say %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr.String(), "load: ") {
		t.Errorf("no progress on stderr")
	}
}

// Progress says each phase when it starts, not at the next tick, and each
// broadcast with the time it was sent: a watcher (the benchmarks) learns
// when the sends begin and when each was sent.
func TestProgressSaysEachPhaseAsItStarts(t *testing.T) {
	t.Parallel()
	s := localtest.Start(t, local.Options{})
	var progress testkit.Buffer
	start := time.Now()
	if _, err := Run(testkit.Context(t, 90*time.Second), Config{URL: s.URL, Clients: 4, RoomSize: 4, Broadcasts: 1,
		Progress: &progress, ProgressEvery: time.Hour}); err != nil {
		t.Fatal(err)
	}
	var phases, sends []string
	for line := range strings.Lines(progress.String()) {
		switch f := strings.Fields(line); {
		case len(f) == 5 && f[1] == "broadcast":
			sends = append(sends, f[2]+" "+f[3])
			if at, err := strconv.ParseInt(f[4], 10, 64); err != nil || time.Unix(0, at).Before(start) || time.Unix(0, at).After(time.Now()) {
				t.Errorf("broadcast %s was sent at %q, not a time in the run", f[2], f[4])
			}
		case len(f) > 2:
			phases = append(phases, f[2])
		}
	}
	if got := strings.Join(phases, " "); got != "settle send drain done" {
		t.Errorf("progress said the phases %q, want %q:\n%s", got, "settle send drain done", progress.String())
	}
	if got := strings.Join(sends, ", "); got != "0 at" {
		t.Errorf("progress said of the broadcasts %q, want one line for broadcast 0 with its time:\n%s", got, progress.String())
	}
}

func TestBroadcastModeMeasuresEachBroadcast(t *testing.T) {
	t.Parallel()
	s := localtest.Start(t, local.Options{})
	res, err := Run(testkit.Context(t, 90*time.Second), Config{URL: s.URL, Clients: 12, RoomSize: 6, Broadcasts: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || res.Messages.Sent != 4 || res.Deliveries.Delivered != 24 || len(res.BroadcastMS) != 4 {
		t.Fatalf("result %+v", res)
	}
	for _, d := range res.BroadcastMS {
		if d <= 0 || d > res.LatencyMS.Max {
			t.Fatalf("broadcast times %v, max latency %v", res.BroadcastMS, res.LatencyMS.Max)
		}
	}
}

// TestLossIsReported: when the management API fails for one member, the
// run is incomplete and names that member.
func TestLossIsReported(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	victim := ""
	s := localtest.Start(t, local.Options{Gateway: gateway.Config{Faults: gateway.Faults{
		FailPost: func(id string) bool {
			mu.Lock()
			defer mu.Unlock()
			return id == victim
		},
	}}})
	res, err := Run(testkit.Context(t, 90*time.Second), Config{URL: s.URL, Clients: 3, RoomSize: 3, Broadcasts: 3, Drain: time.Second,
		ConnectConcurrency: 1,
		AfterJoin: func(ctx context.Context) error {
			ids, err := s.ConnectionsByName(ctx)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for name, id := range ids {
				if strings.HasSuffix(name, "-2") {
					victim = id
				}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Complete || res.Deliveries.Lost != 3 || len(res.Deliveries.LostByClient) != 1 {
		t.Fatalf("one member missed 3 messages, but the result says %+v", res.Deliveries)
	}
	var summary strings.Builder
	res.WriteSummary(&summary)
	if !strings.Contains(summary.String(), "3 lost") || !strings.Contains(summary.String(), "INCOMPLETE") {
		t.Fatalf("summary:\n%s", summary.String())
	}
}

func TestConfigIsValidatedAndBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "URL is required"},
		{Config{URL: "http://127.0.0.1/local"}, "ws:// or wss://"},
		{Config{URL: "ws://127.0.0.1/local?name=x"}, "no query"},
		{Config{URL: "ws://127.0.0.1/local", Clients: MaxClients + 1}, "at most"},
		{Config{URL: "ws://127.0.0.1/local", Duration: 2 * MaxDuration}, "at most"},
		{Config{URL: "ws://127.0.0.1/local", VanishFraction: 2}, "between 0 and 1"},
	} {
		if _, err := Run(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%+v) = %v, want an error saying %q", tc.cfg, err, tc.want)
		}
	}
}

func TestUnreachableTargetFailsWithExit2(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := Main(testkit.Context(t, 90*time.Second), []string{"-url", "ws://127.0.0.1:1/local", "-clients", "2", "-q"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "no client connected") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestParseFrame(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		frame string
		kind  kind
		seq   int
		own   bool
	}{
		{`{"type":"public","message":"load:r1:7:xxxx","ref":"7"}`, kindPublic, 7, true},
		{`{"type":"public","message":"load:r1:7:xxxx"}`, kindPublic, 7, false},
		{`{"type":"public","message":"load:r2:7:xxxx"}`, kindForeign, -1, false},
		{`{"type":"public","message":"load:r1:07:x"}`, kindForeign, -1, false},
		{`{"type":"public","message":"load:r1:-1:x"}`, kindForeign, -1, false},
		{`{"type":"public","message":"hello"}`, kindForeign, -1, false},
		{`{"type":"error","code":"internal","ref":"3"}`, kindError, 3, true},
		{`{"type":"members","members":[]}`, kindOther, -1, false},
		{`{"message":"Internal server error","connectionId":"x"}`, kindGateway, -1, false},
		{`not json`, kindBadFrame, -1, false},
		// Read as the definition's types: a field of another type is no chat frame.
		{`{"type":"public","ts":"1","message":"load:r1:7:xxxx","ref":"7"}`, kindBadFrame, -1, false},
		{`{"type":"error","code":"internal","unknown":"Zed","ref":"3"}`, kindBadFrame, -1, false},
	} {
		p := parseFrame([]byte(tc.frame), "r1")
		if p.kind != tc.kind || p.seq != tc.seq || p.own != tc.own {
			t.Errorf("parseFrame(%s) = %+v, want kind %d seq %d own %v", tc.frame, p, tc.kind, tc.seq, tc.own)
		}
	}
}

// FuzzParseFrame: whatever a server sends, parsing never panics, and a
// frame is taken for one of this run's messages only when its text carries
// exactly the marker the run wrote for that sequence number.
func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{`{"type":"public","message":"load:r1:7:x","ref":"7"}`, `{"type":"error","ref":"99999999999999999999"}`,
		`{"type":"public","message":"load:r1:"}`, `{}`, `[`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := parseFrame(data, "r1")
		if p.kind == kindPublic {
			var fr Frame
			if err := json.Unmarshal(data, &fr); err != nil || !strings.HasPrefix(fr.Message, marker("r1", p.seq)) {
				t.Fatalf("parseFrame(%q) took it for message %d", data, p.seq)
			}
		}
		if p.kind != kindPublic && p.kind != kindError && p.seq != -1 {
			t.Fatalf("parseFrame(%q) = %+v: a sequence number on a frame that has none", data, p)
		}
	})
}

// TestSignedInRunAgainstTheLocalStackIsComplete: with sign-in on, every
// client gets its own account's token from the stack's token endpoint and
// joins with it; without tokens nobody connects.
func TestSignedInRunAgainstTheLocalStackIsComplete(t *testing.T) {
	t.Parallel()
	s := localtest.Start(t, local.Options{Auth: contract.AuthCognito})
	var stdout, stderr bytes.Buffer
	code := Main(testkit.Context(t, 90*time.Second), []string{"-url", s.URL, "-token-url", s.PageURL + "_local/token",
		"-clients", "6", "-room-size", "3", "-rate", "10", "-duration", "1s", "-q"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "6 connected, 0 failed") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	accounts := map[string]bool{}
	for _, inv := range s.Invocations() {
		if inv.Route == contract.RouteConnect && !inv.Authorizer {
			name, _ := inv.AuthorizerContext[contract.AuthContextUsername].(string)
			accounts[name] = true
		}
	}
	if len(accounts) != 6 || accounts[""] {
		t.Errorf("the $connects were signed in as %v, want 6 accounts", accounts)
	}

	stdout.Reset()
	stderr.Reset()
	code = Main(testkit.Context(t, 90*time.Second), []string{"-url", s.URL, "-clients", "2", "-q"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stdout.String()+stderr.String(), "HTTP 401") {
		t.Fatalf("without tokens: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
}

func TestTokenURLIsValidated(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"ws://127.0.0.1/_local/token", "http://127.0.0.1/_local/token?user=x", "not a url"} {
		if _, err := TokenFromURL(u); err == nil {
			t.Errorf("TokenFromURL(%q) accepted", u)
		}
	}
}
