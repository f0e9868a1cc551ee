package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// settleQueue records the settle messages the handler sends, for the test
// to deliver itself (the delay is the queue's business); lose drops that
// many sends as if the function died between its conditional write and
// SendMessage.
type settleQueue struct {
	mu     sync.Mutex
	bodies []string
	delays []time.Duration // of every message sent, in order
	lose   int
}

func (q *settleQueue) Send(ctx context.Context, body []byte, delay time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err // the invocation was killed (chattest.Cut): never sent
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.lose > 0 {
		q.lose--
		return nil
	}
	q.bodies = append(q.bodies, string(body))
	q.delays = append(q.delays, delay)
	return nil
}

func (q *settleQueue) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.bodies
	q.bodies, q.delays = nil, nil
	return out
}

// takeDelayed returns the messages sent and their delays, and forgets them.
func (q *settleQueue) takeDelayed() ([]string, []time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	bodies, delays := q.bodies, q.delays
	q.bodies, q.delays = nil, nil
	return bodies, delays
}

// deliverSettle invokes the function with one settle message, as the
// queue's event source mapping does, and fails on a record it reports.
func deliverSettle(t *testing.T, h *chattest.Harness, body string) {
	t.Helper()
	out, err := h.Service.Invoke(context.Background(), settleEvent(body))
	if err != nil {
		t.Fatalf("settle: %v", err)
	}
	if resp, ok := out.(events.SQSEventResponse); !ok || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("settle answered %#v, want no failures", out)
	}
}

func settleEvent(body string) json.RawMessage {
	raw, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: body, EventSource: "aws:sqs"}}})
	return raw
}

// settleAll delivers every settle message sent, and those their delivery
// sends (a room that changed since its settle was armed waits one more
// delay), until none is left.
func settleAll(t *testing.T, h *chattest.Harness, q *settleQueue) {
	t.Helper()
	for range 10 {
		bodies := q.take()
		if len(bodies) == 0 {
			return
		}
		for _, b := range bodies {
			deliverSettle(t, h, b)
		}
	}
	t.Fatal("the settle messages never stopped")
}

// counts are the presence frames' counts posted to a connection since the
// last take, with their cv.
func counts(t *testing.T, h *chattest.Harness, id string) (out [][2]int64) {
	t.Helper()
	for _, raw := range h.GW.Take(id) {
		var f struct {
			Type  string `json:"type"`
			Count int64  `json:"count"`
			CV    int64  `json:"cv"`
		}
		if err := json.Unmarshal(raw, &f); err == nil && f.Type == "presence" {
			out = append(out, [2]int64{f.Count, f.CV})
		}
	}
	return out
}

// TestADuplicateSettleDeliveryBroadcastsNoOtherCount: SQS delivers a
// message at least once. A settle delivered again after it was done sends
// nothing; two deliveries at once send the same count.
func TestADuplicateSettleDeliveryBroadcastsNoOtherCount(t *testing.T) {
	t.Parallel()
	q := &settleQueue{}
	h := chattest.New(t, func(o *chat.Options) { o.Settle = q })
	ids := h.Populate("hall", 30)
	h.Join("late", "hall") // 31: its credit pays no presence frame
	bodies := q.take()
	if len(bodies) != 1 {
		t.Fatalf("the join sent %d settle messages, want 1", len(bodies))
	}
	deliverSettle(t, h, bodies[0])
	if got := counts(t, h, ids[0]); len(got) != 1 || got[0][0] != 31 {
		t.Fatalf("the settle told a member %v, want one presence frame of 31", got)
	}
	deliverSettle(t, h, bodies[0])
	if got := counts(t, h, ids[0]); len(got) != 0 {
		t.Fatalf("the settle delivered again told a member %v, want nothing", got)
	}
	if more := q.take(); len(more) != 0 {
		t.Fatalf("the repeat sent %d settle messages, want none", len(more))
	}

	h.Join("later", "hall")
	bodies = q.take()
	if len(bodies) != 1 {
		t.Fatalf("the second join sent %d settle messages, want 1", len(bodies))
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { deliverSettle(t, h, bodies[0]) })
	}
	wg.Wait()
	got := counts(t, h, ids[0])
	if len(got) == 0 {
		t.Fatal("two deliveries at once told the room nothing")
	}
	for _, c := range got {
		if c != got[0] || c[0] != 32 {
			t.Fatalf("two deliveries at once told a member %v, want the count 32 (one cv)", got)
		}
	}
}

// TestASettleLostBetweenItsWriteAndItsSendDoesNotStopLaterSettles: the
// function dies after marking the room's settle pending and before
// SendMessage. Changes inside the hold find it pending and send nothing;
// the first change after it arms a settle again, which tells every member
// the count.
func TestASettleLostBetweenItsWriteAndItsSendDoesNotStopLaterSettles(t *testing.T) {
	t.Parallel()
	q := &settleQueue{lose: 1}
	h := chattest.New(t, func(o *chat.Options) { o.Settle = q })
	ids := h.Populate("hall", 30)
	h.Join("a", "hall")
	h.Join("b", "hall")
	if got := q.take(); len(got) != 0 {
		t.Fatalf("%d settle messages sent while the lost one held the room, want none", len(got))
	}
	h.Advance(chat.DefaultSettleDelay + chat.DefaultSettleHold + time.Second)
	h.Join("c", "hall")
	bodies := q.take()
	if len(bodies) != 1 {
		t.Fatalf("the first join after the hold sent %d settle messages, want 1", len(bodies))
	}
	deliverSettle(t, h, bodies[0])
	settleAll(t, h, q)
	for _, id := range ids {
		got := counts(t, h, id)
		if len(got) == 0 || got[len(got)-1][0] != 33 {
			t.Fatalf("member %s was told %v, want the count 33 last", id, got)
		}
	}
}

// TestASettleKilledAfterAnyRequestEndsWithEveryMemberCounted: the settle's
// invocation is killed right after each of its DynamoDB requests; SQS
// delivers the message again (the batch failed), and every member of the
// room ends told its count.
func TestASettleKilledAfterAnyRequestEndsWithEveryMemberCounted(t *testing.T) {
	t.Parallel()
	q := &settleQueue{}
	h := chattest.New(t, func(o *chat.Options) { o.Settle = q })
	arm := func(room string) ([]string, string) {
		ids := h.Populate(room, 30)
		h.Join("late", room)
		bodies := q.take()
		if len(bodies) != 1 {
			t.Fatalf("the join sent %d settle messages, want 1", len(bodies))
		}
		return ids, bodies[0]
	}
	_, body := arm("whole")
	n := len(h.Cut(-1, func(ctx context.Context) { _, _ = h.Service.Invoke(ctx, settleEvent(body)) }).Requests())
	q.take()
	if n < 4 {
		t.Fatalf("a settle made %d DynamoDB requests, want its reads, the room's list and the clear", n)
	}
	for k := 1; k <= n; k++ {
		room := fmt.Sprintf("cut%d", k)
		ids, body := arm(room)
		c := h.Cut(k, func(ctx context.Context) { _, _ = h.Service.Invoke(ctx, settleEvent(body)) })
		deliverSettle(t, h, body) // SQS's delivery again after the visibility timeout
		settleAll(t, h, q)
		for _, id := range ids {
			got := counts(t, h, id)
			if len(got) == 0 || got[len(got)-1][0] != 31 {
				t.Fatalf("killed after request %d (%v): member %s was told %v, want the count 31 last", k, c.Requests(), id, got)
			}
		}
	}
}

// TestABiggerRoomsSettleWaitsLongerSoItsSettlesCostBoundedDeliveries: a
// settle reaches every member; a room of more than 2,000 waits one second
// per 1,000 members, so its settles make at most 1,000 deliveries a second.
func TestABiggerRoomsSettleWaitsLongerSoItsSettlesCostBoundedDeliveries(t *testing.T) {
	for _, c := range []struct {
		count int
		want  time.Duration
	}{{21, 2 * time.Second}, {2000, 2 * time.Second}, {10_000, 10 * time.Second}, {2_000_000, 15 * time.Minute}} {
		if got := chat.SettleDelay(chat.Options{}, c.count); got != c.want {
			t.Errorf("a room of %d: settle delay %s, want %s", c.count, got, c.want)
		}
		if d := chat.SettleDelay(chat.Options{}, c.count); c.count <= 900_000 && float64(c.count)/d.Seconds() > chat.SettleDeliveriesPerSecond {
			t.Errorf("a room of %d settles every %s: more than %d deliveries a second", c.count, d, chat.SettleDeliveriesPerSecond)
		}
	}
}
