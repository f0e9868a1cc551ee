package wire

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/groupchat/groupchat/local/sqslocal"
)

// TestTheSettleQueueSendsThroughSQSsProtocol: the function's SendMessage,
// signed and in SQS's JSON protocol, is taken by the SQS stand-in (checked
// against moto's SQS: local/sqslocal) with its delay; a queue that does not
// exist is an error.
func TestTheSettleQueueSendsThroughSQSsProtocol(t *testing.T) {
	s, err := sqslocal.Start(sqslocal.Deterministic("counts the one message sent"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q := newSettleQueue(cfg, s.QueueURL(sqslocal.QueueName), "")
	if err := q.Send(ctx, []byte(`{"room":"r"}`), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := s.Depth(sqslocal.QueueName); n != 1 {
		t.Fatalf("the queue holds %d messages, want 1", n)
	}
	if err := newSettleQueue(cfg, s.QueueURL("nowhere"), "").Send(ctx, []byte(`{}`), 0); err == nil {
		t.Fatal("a send to a queue that does not exist succeeded")
	}
}
