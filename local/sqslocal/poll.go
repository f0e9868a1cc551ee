package sqslocal

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Handler is a function's Lambda handler: an event's JSON in, an answer
// that becomes JSON out.
type Handler func(ctx context.Context, event json.RawMessage) (any, error)

// pollEvery is how often an idle poller looks for visible messages (the
// mapping long-polls: a message comes within moments of becoming visible).
const pollEvery = 50 * time.Millisecond

// Poll starts the event source mapping: workers pollers, each receiving a
// batch of at most BatchSize visible messages of the settle queue and
// invoking fn with them as an SQS event (bounded by timeout, the function's
// timeout). A record fn reports in BatchItemFailures, or every record of an
// invocation that failed, stays in the queue and comes again after the
// visibility timeout; the others are deleted.
func (s *Server) Poll(fn Handler, workers int, timeout time.Duration) {
	for range max(workers, 1) {
		s.pollers.Go(func() {
			t := time.NewTicker(pollEvery)
			defer t.Stop()
			for {
				for !s.stopping() && s.invoke(fn, timeout) {
				}
				select {
				case <-s.stop:
					return
				case <-t.C:
				}
			}
		})
	}
}

// invoke delivers one batch, if any message is visible; false if none was.
func (s *Server) invoke(fn Handler, timeout time.Duration) bool {
	ds, _ := s.receive(QueueName, s.opt.BatchSize, s.opt.VisibilityTimeout)
	if len(ds) == 0 {
		return false
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(ds))}
	for i, d := range ds {
		ev.Records[i] = events.SQSMessage{MessageId: d.ID, ReceiptHandle: d.Receipt, Body: d.Body, Md5OfBody: md5Hex(d.Body),
			EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:" + region + ":" + account + ":" + QueueName, AWSRegion: region,
			Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(d.Receives),
				"SentTimestamp": strconv.FormatInt(d.Sent.UnixMilli(), 10)}}
	}
	raw, _ := json.Marshal(ev)
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	answer, err := fn(ctx, raw)
	cancel()
	failed := map[string]bool{}
	if err != nil {
		for _, d := range ds {
			failed[d.ID] = true
		}
	} else {
		var resp events.SQSEventResponse
		if data, err := json.Marshal(answer); err == nil {
			_ = json.Unmarshal(data, &resp)
		}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
	}
	for _, d := range ds {
		if !failed[d.ID] {
			_ = s.remove(QueueName, d.Receipt)
		}
	}
	return true
}
