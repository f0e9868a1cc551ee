package wire

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
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
	var err error
	for attempt := range sqsAttempts {
		var retry bool
		if retry, err = q.send(ctx, in); err == nil || !retry || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	return err
}

// send makes one SendMessage request; retry says whether another may pass.
func (q settleQueue) send(ctx context.Context, in []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, q.endpoint+"/", bytes.NewReader(in))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS.SendMessage")
	creds, err := q.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return false, fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(in)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "sqs", q.cfg.Region, time.Now()); err != nil {
		return false, fmt.Errorf("sign: %w", err)
	}
	resp, err := q.client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK {
		return false, nil
	}
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data, &e)
	return resp.StatusCode >= 500, fmt.Errorf("SendMessage: %d %s %s", resp.StatusCode, e.Type, e.Message)
}
