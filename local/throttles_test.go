package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/wire"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/lambdaenv"
	"github.com/groupchat/groupchat/local/sqslocal"
	"github.com/groupchat/groupchat/observability"
)

// A settle batch the function's concurrency refuses (the environments'
// throttle) is, as every other refusal, one in AWS/Lambda Throttles: the
// settle queue's event source mapping invokes the function too, and the
// dashboard and the LambdaThrottles alarm would not see a function short
// of concurrency that only the settle queue met.
func TestASettleBatchTheConcurrencyRefusesCountsInThrottles(t *testing.T) {
	t.Parallel()
	testkit.Slow(t, "the local stack, on dynalite")
	ctx := testkit.Context(t, time.Minute)
	refused := make(chan struct{}, 100)
	s, err := local.Start(ctx, local.Options{
		SQS: sqslocal.Options{Deterministic: "one refusal to count", VisibilityTimeout: time.Hour},
		Function: func(wire.Config, chat.Options) local.Invoke {
			return func(_ context.Context, ev json.RawMessage) (any, error) {
				if bytes.Contains(ev, []byte(`"aws:sqs"`)) {
					refused <- struct{}{}
					return nil, &lambdaenv.FunctionError{Type: lambdaenv.ErrorTypeThrottled, Message: "Rate Exceeded."}
				}
				return nil, errors.New("not this test's event")
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	c := sqs.NewFromConfig(local.AWSConfig(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.SQS.Endpoint()) })
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.SQS.QueueURL(sqslocal.QueueName)),
		MessageBody: aws.String(`{"room":"r"}`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-refused:
	case <-ctx.Done():
		t.Fatal("the settle message was never delivered")
	}
	throttles := observability.Metric{Namespace: observability.NamespaceLambda, Name: "Throttles", Stat: observability.Sum}
	for {
		var sum float64
		for _, l := range s.Metrics.Query(throttles, time.Minute, time.Now().Add(-time.Hour), time.Now().Add(time.Minute)) {
			for _, p := range l.Points {
				sum += p.Value
			}
		}
		if sum == 1 {
			return
		}
		if sum > 1 || ctx.Err() != nil {
			t.Fatalf("Throttles = %v after one settle batch refused, want 1", sum)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
