package wire

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
	return withAttempts(ctx, s.attempts, func() (bool, error) { return s.invoke(ctx, event) })
}

// invoke makes one Invoke request; retry says whether another may pass.
func (s selfInvoker) invoke(ctx context.Context, event []byte) (retry bool, err error) {
	answer, sent, err := signedPost(ctx, s.cfg, s.client, "lambda", s.url,
		map[string]string{"Content-Type": "application/json", "X-Amz-Invocation-Type": "Event"}, event, 4<<10)
	if err != nil {
		return sent, err
	}
	if answer.Status == http.StatusAccepted {
		return false, nil
	}
	return answer.Status >= 500 || answer.Status == http.StatusTooManyRequests, fmt.Errorf("asynchronous Invoke: %s", answer.awsError())
}
