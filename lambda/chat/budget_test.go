package chat_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// The budget (issue 22 #5): every action draws its cost from the person's
// budget (the default: 20 units in any 10 s; a message or a ping costs 1,
// a hello 3), and an account's $connects are limited to 20 a minute.

// requests is the handler's DynamoDB requests so far, all operations.
func requests(h *chattest.Harness) int64 {
	var n int64
	for _, c := range h.DynamoDB.Counts() {
		n += c
	}
	return n
}

func TestAHelloFloodIsRefusedAfterTheBudgetAndARefusalCostsNoRequest(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	talker, flood := h.Join("Talker", ""), h.Join("Flood", "")
	long := strings.Repeat("history ", 200)
	for i := range 15 {
		h.Send(talker, fmt.Sprintf(`{"action":"sendPublic","message":"%d %s"}`, i, long))
	}
	inbox(t, h, flood)

	var accepted, refused []frame
	var acceptedBytes, refusedBytes int
	var refusedRequests int64
	for i := range 100 {
		before := requests(h)
		resp := h.Send(flood, fmt.Sprintf(`{"action":"hello","ref":"h%d"}`, i))
		f := decode(t, []byte(resp))
		switch {
		case f.Type == "state":
			accepted = append(accepted, f)
			acceptedBytes += len(resp)
		case f.Type == "error" && f.Code == "rate_limited":
			if len(refused) > 0 { // the first refusal is the table's; the rest the instance's memory
				refusedRequests += requests(h) - before
			}
			refused = append(refused, f)
			refusedBytes += len(resp)
			if f.RetryAfterMs <= 0 || f.RetryAfterMs > 10_001 || f.Action != "hello" || f.Ref != fmt.Sprintf("h%d", i) {
				t.Fatalf("hello %d refused with %+v: want retryAfterMs in (0, 10 s], the action and the ref", i, f)
			}
		default:
			t.Fatalf("hello %d answered %+v", i, f)
		}
	}
	if len(accepted) != 6 || len(refused) != 94 {
		t.Fatalf("100 hellos: %d answered with the state, %d refused; want 6 (20 units / 3 a hello) and 94", len(accepted), len(refused))
	}
	if len(accepted[0].History) != 15 {
		t.Fatalf("the state held %d messages of history, want 15", len(accepted[0].History))
	}
	perAccepted, perRefused := acceptedBytes/len(accepted), refusedBytes/len(refused)
	if perRefused*20 > perAccepted {
		t.Fatalf("a refused hello is answered with %d bytes, an accepted one with %d: want under a twentieth", perRefused, perAccepted)
	}
	if refusedRequests != 0 {
		t.Fatalf("93 hellos refused after the first cost %d DynamoDB requests; want none", refusedRequests)
	}
	// The budget frees up as the window passes.
	h.Advance(10*time.Second + time.Millisecond)
	state(t, h, flood)
}

func TestAPersonOverTheBudgetIsNeitherStoredNorDeliveredNorRenamed(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	flood, bob := h.Join("Flood", ""), h.Join("Bob", "")
	h.Settle()
	for range 6 {
		state(t, h, flood) // 18 units of 20
	}
	inbox(t, h, bob)
	// 2 units left: one message and one rename fit, then nothing.
	h.Send(flood, `{"action":"sendPublic","message":"fits"}`)
	inbox(t, h, flood)
	if f := sendErr(t, h, flood, `{"action":"hello"}`); f.Code != "rate_limited" {
		t.Fatalf("a hello with 1 unit left: %+v; want rate_limited", f)
	}
	h.Send(flood, `{"action":"setName","name":"Calm"}`)
	inbox(t, h, flood)
	if f := sendErr(t, h, flood, `{"action":"sendPublic","message":"over"}`); f.Code != "rate_limited" {
		t.Fatalf("a message over the budget: %+v; want rate_limited", f)
	}
	if f := sendErr(t, h, flood, `{"action":"setName","name":"Loud"}`); f.Code != "rate_limited" {
		t.Fatalf("a rename over the budget: %+v; want rate_limited", f)
	}
	got := inbox(t, h, bob)
	if pub := ofType(got, "public"); len(pub) != 1 || pub[0].Message != "fits" {
		t.Fatalf("bob got %v; want only the message that fit", got)
	}
	if ren := ofType(got, "renamed"); len(ren) != 1 || ren[0].Name != "Calm" {
		t.Fatalf("bob got %v; want only the rename that fit", got)
	}
	s := state(t, h, bob)
	if len(s.History) != 1 || s.History[0].Message != "fits" {
		t.Fatalf("history %+v; want only the message that fit", s.History)
	}
	for _, m := range s.Members {
		if m == "Loud" {
			t.Fatalf("members %v: the refused rename was applied", s.Members)
		}
	}
}

// A ping reads the room's count (a pong carries it): it draws a unit like a
// message, and a flood of them is refused without a request.
func TestAPingFloodIsRefusedAfterTheBudgetAndARefusalCostsNoRequest(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	flood := h.Join("Flood", "")
	var pongs, refused int
	var pongRequests, refusedRequests int64
	for i := range 300 {
		before := requests(h)
		f := decode(t, []byte(h.Send(flood, `{"action":"ping"}`)))
		switch {
		case f.Type == "pong":
			pongs++
			pongRequests += requests(h) - before
		case f.Type == "error" && f.Code == "rate_limited" && f.RetryAfterMs > 0:
			if refused > 0 {
				refusedRequests += requests(h) - before
			}
			refused++
		default:
			t.Fatalf("ping %d answered %+v", i, f)
		}
	}
	if pongs != 20 || refused != 280 {
		t.Fatalf("300 pings: %d answered pong, %d refused; want 20 and 280", pongs, refused)
	}
	if refusedRequests != 0 {
		t.Fatalf("279 pings refused after the first cost %d DynamoDB requests; want none", refusedRequests)
	}
	if per := float64(pongRequests) / 20; per > 3 {
		t.Fatalf("a pong cost %.1f DynamoDB requests; want at most 3 (as before the budget)", per)
	}
}

func TestTheBudgetIsTheAccountsAcrossItsDevices(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	phone, laptop := h.JoinAs("alice", ""), h.JoinAs("alice", "other")
	for range 6 {
		state(t, h, phone) // 18 units of alice's 20
	}
	if f := sendErr(t, h, laptop, `{"action":"hello"}`); f.Code != "rate_limited" || f.RetryAfterMs <= 0 {
		t.Fatalf("alice's hello from her laptop after six from her phone: %+v; want rate_limited with retryAfterMs", f)
	}
	// A refused hello says nothing of a cheaper action: a page of members
	// (1 unit) and a message (1) still fit, then nothing.
	if resp := h.Send(laptop, `{"action":"members"}`); !strings.HasPrefix(resp, `{"type":"memberPage"`) {
		t.Fatalf("alice's members with 2 units left: %s", resp)
	}
	if a, _ := sendAll(t, h, laptop, 1, func(int) string { return `{"action":"sendPublic","message":"last"}` }); a != 1 {
		t.Fatal("alice's message with 1 unit left was refused")
	}
	if f := sendErr(t, h, phone, `{"action":"sendPublic","message":"over"}`); f.Code != "rate_limited" {
		t.Fatalf("alice's message from her phone over the budget: %+v", f)
	}
	bob := h.JoinAs("bob", "")
	state(t, h, bob) // bob has a budget of his own
}

func TestAConnectFloodOfOneAccountIsRefusedAfterTwentyAMinuteWithTheReason(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	var recorded, refused []string
	var refusedRequests int64
	for i := range 30 {
		before := requests(h)
		id, resp := h.ConnectAs("mallory", "mallory", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("connect %d: status %d %s; want the handshake let through", i, resp.StatusCode, resp.Body)
		}
		if _, err := h.Store.GetConnection(t.Context(), id); err == nil {
			recorded = append(recorded, id)
		} else {
			refused = append(refused, id)
		}
		if i == 29 {
			break // its hello is asked below, before its close
		}
		h.Disconnect(id)
		if len(refused) > 1 {
			refusedRequests += requests(h) - before
		}
	}
	if len(recorded) != 20 || len(refused) != 10 {
		t.Fatalf("30 connects of one account in a moment: %d recorded, %d refused; want 20 and 10", len(recorded), len(refused))
	}
	// A refused connect and its close cost at most its $disconnect's two
	// requests (a conditional UpdateItem that finds no record, and its
	// GetItem); the $connect is refused by the instance's memory.
	if per := float64(refusedRequests) / 8; per > 2 {
		t.Fatalf("a refused connect/close cycle cost %.1f DynamoDB requests; want at most 2", per)
	}
	last := refused[len(refused)-1]
	f := sendErr(t, h, last, `{"action":"hello"}`)
	if f.Code != "rate_limited" || f.RetryAfterMs <= 0 || f.RetryAfterMs > 60_001 || !strings.Contains(f.Message, "connections") {
		t.Fatalf("the hello of a connect past the limit: %+v; want rate_limited saying connections, with retryAfterMs in (0, 1 min]", f)
	}
	h.Disconnect(last)
	// A minute later mallory connects again; bob was never limited.
	h.Advance(time.Minute + time.Millisecond)
	state(t, h, h.JoinAs("mallory", ""))
	state(t, h, h.JoinAs("bob", ""))
}
