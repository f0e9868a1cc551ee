package chat_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// With the JSON log format Lambda filters application log lines by their
// "level", reading a line without one, or without an RFC 3339 "timestamp",
// as INFO: every metrics line carries both, at the level no application log
// level filters out.
func TestMetricsLinesCarryALevelNoLogLevelFiltersOut(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice := h.Join("Alice", "")
	h.Join("Bob", "")
	h.Send(alice, `{"action":"sendPublic","message":"hi"}`)
	lines := strings.Split(strings.TrimSpace(h.Metrics.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("%d metrics lines, want one per invocation: %q", len(lines), lines)
	}
	for _, line := range lines {
		var doc struct {
			Level     string                    `json:"level"`
			Timestamp string                    `json:"timestamp"`
			AWS       struct{ Timestamp int64 } `json:"_aws"`
		}
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("metrics line is not JSON: %q", line)
		}
		if doc.Level != "FATAL" { // the most severe of Lambda's application log levels
			t.Errorf("level %q, want %q: %s", doc.Level, "FATAL", line)
		}
		ts, err := time.Parse(time.RFC3339, doc.Timestamp)
		if err != nil || ts.UnixMilli() != doc.AWS.Timestamp {
			t.Errorf("timestamp %q is not the RFC 3339 form of _aws.Timestamp %d (%v): %s", doc.Timestamp, doc.AWS.Timestamp, err, line)
		}
	}
}

// Every frame refused for the rate limit is counted in RateLimited, so a
// flood shows on the dashboard; accepted frames are not.
func TestRefusedFramesAreCountedAsRateLimited(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, func(o *chat.Options) { o.RateLimit = chat.RateLimit{Limit: 5, Window: 10 * time.Second} })
	alice := h.Join("Alice", "")
	accepted, limited := sendAll(t, h, alice, 12, func(int) string { return `{"action":"sendPublic","message":"hi"}` })
	if accepted != 5 || len(limited) != 7 {
		t.Fatalf("accepted %d, refused %d; want 5 and 7", accepted, len(limited))
	}
	counted := 0.0
	for _, line := range strings.Split(strings.TrimSpace(h.Metrics.String()), "\n") {
		var doc struct {
			RateLimited float64 `json:"RateLimited"`
		}
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("metrics line is not JSON: %q", line)
		}
		counted += doc.RateLimited
	}
	if counted != 7 {
		t.Errorf("RateLimited sums to %v, want the 7 refused frames", counted)
	}
}
