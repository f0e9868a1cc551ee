package bench

import (
	"maps"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// BenchmarkRequestsPerSendPublic: the DynamoDB requests one sendPublic makes
// in a room of 10, counted per operation by the proxy the handler reaches
// dynalite through (local/ddbproxy Counts), over 10 messages from one
// connection (under the rate limit). It uses nothing issue 12 added, so the
// same file measures the code before it (docs/benchmarks.md gives the
// command).
func BenchmarkRequestsPerSendPublic(b *testing.B) {
	for b.Loop() {
		h := chattest.New(b)
		h.GW.Discard = true
		ids := h.Populate("measured", 10)
		reportRequests(b, h, 10, func() { h.Send(ids[0], `{"action":"sendPublic","message":"how many requests?"}`) })
	}
}

// reportRequests runs send n times and reports the proxy's requests per
// call, per operation and in all.
func reportRequests(b *testing.B, h *chattest.Harness, n int, send func()) {
	b.Helper()
	before := h.DynamoDB.Counts()
	for range n {
		send()
	}
	after := h.DynamoDB.Counts()
	total := 0.0
	for op := range maps.Keys(after) {
		d := float64(after[op]-before[op]) / float64(n)
		if d > 0 {
			b.ReportMetric(d, op+"/op")
			total += d
		}
	}
	b.ReportMetric(total, "requests/op")
}
