package wire

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// invokeRequestTimeout bounds one asynchronous Invoke; Lambda queues the
// event and answers 202 in milliseconds.
const invokeRequestTimeout = 3 * time.Second

// invokeAttempts: an Invoke that failed (5xx, 429, a lost connection) is
// made again, at most this many times in all. A repeat of one Lambda
// queued is a shard delivered twice, which the page takes (docs/design.md,
// Fan-out shards).
const invokeAttempts = 3

// selfInvoker is chat.ShardInvoker on the Lambda API: Invoke of this
// function with InvocationType Event, signed by the SDK's SigV4 signer as
// settleQueue's SendMessage is (the SDK's Lambda client would add to the
// binary for this one call). The role may invoke only this function.
type selfInvoker struct {
	cfg      aws.Config
	url      string // …/2015-03-31/functions/{name}/invocations
	client   *http.Client
	attempts int
}

// newSelfInvoker invokes function at endpoint ("": the region's Lambda
// API).
func newSelfInvoker(awsCfg aws.Config, function, endpoint string) selfInvoker {
	if endpoint == "" {
		endpoint = "https://lambda." + awsCfg.Region + ".amazonaws.com"
	}
	return selfInvoker{cfg: awsCfg, url: endpoint + "/2015-03-31/functions/" + url.PathEscape(function) + "/invocations",
		client: &http.Client{Timeout: invokeRequestTimeout}, attempts: invokeAttempts}
}

// InvokeShard queues event for another environment of the function.
func (s selfInvoker) InvokeShard(ctx context.Context, event []byte) error {
	var err error
	for attempt := range s.attempts {
		var retry bool
		if retry, err = s.invoke(ctx, event); err == nil || !retry || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	return err
}

// invoke makes one Invoke request; retry says whether another may pass.
func (s selfInvoker) invoke(ctx context.Context, event []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(event))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	creds, err := s.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return false, fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(event)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", s.cfg.Region, time.Now()); err != nil {
		return false, fmt.Errorf("sign: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode == http.StatusAccepted {
		return false, nil
	}
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests,
		fmt.Errorf("asynchronous Invoke: %d %s %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), bytes.TrimSpace(data))
}
