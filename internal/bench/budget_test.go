package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// BenchmarkBudget (issue 22 #5): one signed-in account floods its
// connection with 100 frames of one kind (hello, ping, members, setName,
// sendPublic, sendPrivate to 1 and to 20 signed-in members who join the
// room for it), or makes 60 connect/close cycles, in a room of 10 with 50
// messages of 1,900 characters in its history (a hello's answer near its
// 100 KB bound). It reports, per accepted and per refused action, the
// handler's DynamoDB requests (the AWS-like proxy's counts) and the bytes
// sent back to the flooder (the route response and any frame posted to its
// connection), with the default budget (budget=on) and without one
// (budget=off: chattest.Unlimited, as before the budget). Run it with
// -benchtime 1x; scripts/bench.sh budget.
func BenchmarkBudget(b *testing.B) {
	for _, kind := range []string{"hello", "ping", "members", "setName", "sendPublic", "sendPrivate1", "sendPrivate20", "connect"} {
		for _, on := range []bool{true, false} {
			b.Run(fmt.Sprintf("kind=%s/budget=%s", kind, map[bool]string{true: "on", false: "off"}[on]), func(b *testing.B) {
				for b.Loop() {
					budgetFlood(b, kind, on)
				}
			})
		}
	}
}

// cost is what a share of a flood cost: actions, DynamoDB requests and the
// bytes sent back to the flooder.
type cost struct{ n, requests, bytes int64 }

func (c cost) per(v int64) float64 {
	if c.n == 0 {
		return 0
	}
	return float64(v) / float64(c.n)
}

func budgetFlood(b *testing.B, kind string, on bool) {
	opts := []chattest.Option{chattest.SignedIn}
	if !on {
		opts = append(opts, chattest.Unlimited)
	}
	h := chattest.New(b, opts...)
	h.GW.Discard = true
	ctx := context.Background()
	h.Populate("flood", 9)
	long := strings.Repeat("x", 1900)
	for i := range 50 {
		ts := h.Now().Add(time.Duration(i-60) * time.Second).Truncate(time.Millisecond)
		r := chat.Record{Kind: chat.KindPublic, ID: ulid.MustNew(ulid.Timestamp(ts), ulid.DefaultEntropy()).String(), TS: ts,
			Room: "flood", From: "member-0", Message: long, ExpiresAt: ts.Add(24 * time.Hour)}
		if err := h.Store.Append(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	requests := func() int64 {
		var n int64
		for _, c := range h.DynamoDB.Counts() {
			n += c
		}
		return n
	}
	var accepted, refused cost
	if kind == "connect" {
		for range 60 {
			before := requests()
			id, resp := h.ConnectAs("mallory", "mallory", map[string]string{"room": "flood"})
			if resp.StatusCode != 200 {
				b.Fatalf("connect: %d %s", resp.StatusCode, resp.Body)
			}
			_, err := h.Store.GetConnection(ctx, id)
			h.Disconnect(id)
			c := cost{1, requests() - before, 0}
			if err == nil {
				accepted = cost{accepted.n + 1, accepted.requests + c.requests, 0}
			} else {
				refused = cost{refused.n + 1, refused.requests + c.requests, 0}
			}
		}
	} else {
		var to []string
		if strings.HasPrefix(kind, "sendPrivate") {
			for i := range 20 {
				to = append(to, fmt.Sprintf(`"user%d"`, i+1)) // distinct skeletons
				h.JoinAs(fmt.Sprintf("user%d", i+1), "flood")
			}
			h.Settle()
		}
		id := h.JoinAs("mallory", "flood")
		h.GW.Discard = false
		h.GW.Take(id)
		for i := range 100 {
			frame := map[string]string{
				"hello":      `{"action":"hello"}`,
				"ping":       `{"action":"ping"}`,
				"members":    `{"action":"members"}`,
				"setName":    fmt.Sprintf(`{"action":"setName","name":"mallory%d"}`, i),
				"sendPublic": fmt.Sprintf(`{"action":"sendPublic","message":"flood %d"}`, i),
			}[kind]
			switch kind {
			case "sendPrivate1":
				frame = fmt.Sprintf(`{"action":"sendPrivate","to":[%s],"message":"flood %d"}`, to[0], i)
			case "sendPrivate20":
				frame = fmt.Sprintf(`{"action":"sendPrivate","to":[%s],"message":"flood %d"}`, strings.Join(to, ","), i)
			}
			before := requests()
			resp := h.Send(id, frame)
			n := int64(len(resp))
			posted := h.GW.Take(id)
			for _, f := range posted {
				n += int64(len(f))
			}
			c := cost{1, requests() - before, n}
			if strings.Contains(resp, `"rate_limited"`) || len(posted) == 1 && strings.Contains(string(posted[0]), `"rate_limited"`) {
				refused = cost{refused.n + 1, refused.requests + c.requests, refused.bytes + c.bytes}
			} else {
				accepted = cost{accepted.n + 1, accepted.requests + c.requests, accepted.bytes + c.bytes}
			}
		}
	}
	b.Logf("%s, budget %v: accepted %d (%.1f requests, %.0f bytes each), refused %d (%.2f requests, %.0f bytes each)",
		kind, on, accepted.n, accepted.per(accepted.requests), accepted.per(accepted.bytes),
		refused.n, refused.per(refused.requests), refused.per(refused.bytes))
	b.ReportMetric(float64(accepted.n), "accepted")
	b.ReportMetric(float64(refused.n), "refused")
	b.ReportMetric(accepted.per(accepted.requests), "requests/accepted")
	b.ReportMetric(accepted.per(accepted.bytes), "bytes/accepted")
	b.ReportMetric(refused.per(refused.requests), "requests/refused")
	b.ReportMetric(refused.per(refused.bytes), "bytes/refused")
}
