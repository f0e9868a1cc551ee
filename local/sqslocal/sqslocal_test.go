package sqslocal_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/local/sqslocal"
)

// deliveries counts the records the mapping invoked a function with, by
// message id; fail reports every record failed.
type deliveries struct {
	mu    sync.Mutex
	byID  map[string]int
	calls int
	fail  bool
}

func (d *deliveries) handle(_ context.Context, raw json.RawMessage) (any, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	var resp events.SQSEventResponse
	for _, r := range ev.Records {
		d.byID[r.MessageId]++
		if d.fail {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	return resp, nil
}

func until(ctx context.Context, t *testing.T, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func send(ctx context.Context, t *testing.T, s *sqslocal.Server, n int) {
	t.Helper()
	c := client(s.Endpoint())
	for range n {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.QueueURL(sqslocal.QueueName)),
			MessageBody: aws.String("m")}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAFailedRecordComesAgainAndEndsInTheDeadLetterQueue: a record the
// function reports failed is delivered again after the visibility timeout,
// and after MaxReceiveCount deliveries moves to the dead-letter queue.
func TestAFailedRecordComesAgainAndEndsInTheDeadLetterQueue(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	s, err := sqslocal.Start(sqslocal.Options{VisibilityTimeout: 50 * time.Millisecond, MaxReceiveCount: 3,
		Deterministic: "counts each delivery"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	d := &deliveries{byID: map[string]int{}, fail: true}
	s.Poll(d.handle, 2, time.Second)
	send(ctx, t, s, 1)
	until(ctx, t, "the message never reached the dead-letter queue", func() bool { return s.Depth(sqslocal.DLQName) == 1 })
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, n := range d.byID {
		if n != 3 {
			t.Errorf("message %s was delivered %d times, want 3", id, n)
		}
	}
	if s.Depth(sqslocal.QueueName) != 0 {
		t.Errorf("the queue still holds %d messages", s.Depth(sqslocal.QueueName))
	}
}

// TestByDefaultSomeMessagesComeTwice: the AWS-like default delivers a
// message twice now and then (here half of them), and loses none; a batch
// holds at most BatchSize records.
func TestByDefaultSomeMessagesComeTwice(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	s, err := sqslocal.Start(sqslocal.Options{Repeat: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	send(ctx, t, s, 40)
	d := &deliveries{byID: map[string]int{}}
	s.Poll(d.handle, 1, time.Second)
	until(ctx, t, "the queue never emptied", func() bool { return s.Depth(sqslocal.QueueName) == 0 })
	d.mu.Lock()
	defer d.mu.Unlock()
	twice := 0
	for _, n := range d.byID {
		if n == 2 {
			twice++
		}
	}
	if len(d.byID) != 40 || twice == 0 || twice == 40 {
		t.Errorf("%d of 40 messages delivered, %d of them twice; want all, some twice", len(d.byID), twice)
	}
	if d.calls < 40/10 {
		t.Errorf("%d invocations for at least 40 records: more than 10 in a batch", d.calls)
	}
}
