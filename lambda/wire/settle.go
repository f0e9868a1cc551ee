package wire

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// sqsRequestTimeout bounds one SendMessage; a healthy one takes
// milliseconds.
const sqsRequestTimeout = 3 * time.Second

// settleQueue is chat.SettleQueue on SQS: SendMessage with DelaySeconds.
type settleQueue struct {
	client *sqs.Client
	url    string
}

func newSettleQueue(awsCfg aws.Config, queueURL, endpoint string) settleQueue {
	return settleQueue{url: queueURL, client: sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.HTTPClient = awshttp.NewBuildableClient().WithTimeout(sqsRequestTimeout).
			WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = 4 })
	})}
}

// Send sends body to be delivered after delay (SQS counts whole seconds,
// at most 15 minutes).
func (q settleQueue) Send(ctx context.Context, body []byte, delay time.Duration) error {
	_, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:     aws.String(q.url),
		MessageBody:  aws.String(string(body)),
		DelaySeconds: int32(min(max(delay.Round(time.Second), 0), 15*time.Minute) / time.Second),
	})
	return err
}
