package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// sqsRequestTimeout bounds one SendMessage; a healthy one takes
// milliseconds.
const sqsRequestTimeout = 3 * time.Second

// sqsAttempts: a SendMessage that failed (5xx, a lost connection) is sent
// again, at most this many times in all; a repeat of one SQS applied is a
// message delivered twice, which the settle takes (lambda/chat/settle.go).
const sqsAttempts = 3

// settleQueue is chat.SettleQueue on SQS: SendMessage with DelaySeconds,
// AWS's JSON 1.0 protocol signed by the SDK's SigV4 signer, as
// SSMParameters does. The SDK's SQS client would add about 0.7 MB to the
// function (lambda's BenchmarkBinarySize, whose goal is 10 MB) for this one
// call.
type settleQueue struct {
	cfg      aws.Config
	queueURL string
	endpoint string // the queue URL's scheme and host, or SQSEndpoint
	client   *http.Client
}

func newSettleQueue(awsCfg aws.Config, queueURL, endpoint string) settleQueue {
	if endpoint == "" {
		if u, err := url.Parse(queueURL); err == nil {
			endpoint = u.Scheme + "://" + u.Host
		}
	}
	return settleQueue{cfg: awsCfg, queueURL: queueURL, endpoint: endpoint, client: &http.Client{Timeout: sqsRequestTimeout}}
}

// Send sends body to be delivered after delay (SQS counts whole seconds,
// at most 15 minutes).
func (q settleQueue) Send(ctx context.Context, body []byte, delay time.Duration) error {
	in, _ := json.Marshal(map[string]any{"QueueUrl": q.queueURL, "MessageBody": string(body),
		"DelaySeconds": int(min(max(delay.Round(time.Second), 0), 15*time.Minute) / time.Second)})
	return withAttempts(ctx, sqsAttempts, func() (bool, error) { return q.send(ctx, in) })
}

// send makes one SendMessage request; retry says whether another may pass.
func (q settleQueue) send(ctx context.Context, in []byte) (retry bool, err error) {
	answer, sent, err := signedPost(ctx, q.cfg, q.client, "sqs", q.endpoint+"/",
		map[string]string{"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessage"}, in, 64<<10)
	if err != nil {
		return sent, err
	}
	if answer.Status == http.StatusOK {
		return false, nil
	}
	return answer.Status >= 500, fmt.Errorf("SendMessage: %s", answer.awsError())
}
