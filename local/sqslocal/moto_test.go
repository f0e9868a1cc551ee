package sqslocal_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/local/sqslocal"
)

func client(endpoint string) *sqs.Client {
	return sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
}

// startMoto starts moto's server (pinned, installed by scripts/moto.sh) on
// a free port, or skips the test when it cannot be installed.
func startMoto(ctx context.Context, t *testing.T) string {
	t.Helper()
	testkit.Slow(t, "moto's server")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	install := exec.CommandContext(ctx, filepath.Join(root, "scripts", "moto.sh"))
	install.Stderr = &stderr
	out, err := install.Output()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("moto could not be installed: %v: %s", err, stderr.String())
		}
		t.Skipf("moto could not be installed (scripts/moto.sh: %v); the comparison with moto did not run", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	_ = ln.Close()
	var log bytes.Buffer
	cmd := exec.Command(strings.TrimSpace(string(out)), "-H", "127.0.0.1", "-p", port)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	endpoint := "http://127.0.0.1:" + port
	for {
		if _, err := client(endpoint).ListQueues(ctx, &sqs.ListQueuesInput{}); err == nil {
			return endpoint
		}
		select {
		case <-exited:
			t.Fatalf("moto_server exited during start-up: %s", log.String())
		case <-ctx.Done():
			t.Fatalf("moto_server did not answer at %s", endpoint)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// observed is what one queue answered to the scenario, for comparing.
type observed struct {
	early, hidden, afterDelete int    // messages received when none may be
	receives                   string // ApproximateReceiveCount of the second delivery
	md5                        string
	body                       string
}

// scenario: a message sent with a 1 s delay is not received before it,
// then is; received again at once it is hidden (visibility 1 s); after
// the visibility timeout it comes again, counted twice; deleted with its
// latest receipt it never comes again.
func scenario(ctx context.Context, t *testing.T, c *sqs.Client, url string) observed {
	t.Helper()
	var o observed
	receive := func(wait bool) []types.Message {
		for {
			out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
				VisibilityTimeout: 1, MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Messages) > 0 || !wait {
				return out.Messages
			}
			select {
			case <-ctx.Done():
				t.Fatal("no message came")
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	sent := time.Now()
	out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"room":"r"}`), DelaySeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	o.md5 = aws.ToString(out.MD5OfMessageBody)
	o.early = len(receive(false))
	first := receive(true)
	if took := time.Since(sent); took < time.Second {
		t.Errorf("%s: the message came %s after it was sent with a 1 s delay", url, took)
	}
	o.body = aws.ToString(first[0].Body)
	o.hidden = len(receive(false))
	second := receive(true)
	o.receives = second[0].Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: second[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	o.afterDelete = len(receive(false))
	return o
}

// TestTheStandInAgreesWithMoto runs the scenario against moto's SQS and
// the stand-in (deterministic: moto repeats no delivery) and compares.
func TestTheStandInAgreesWithMoto(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 5*time.Minute)
	endpoint := startMoto(ctx, t)
	m := client(endpoint)
	created, err := m.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(sqslocal.QueueName)})
	if err != nil {
		t.Fatal(err)
	}
	want := scenario(ctx, t, m, aws.ToString(created.QueueUrl))

	s, err := sqslocal.Start(sqslocal.Deterministic("compared with moto, which delivers each message once"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	got := scenario(ctx, t, client(s.Endpoint()), s.QueueURL(sqslocal.QueueName))
	if got != want {
		t.Errorf("the stand-in answered %+v, moto %+v", got, want)
	}
	if want.early != 0 || want.hidden != 0 || want.afterDelete != 0 || want.receives != "2" {
		t.Errorf("moto answered %+v: the scenario does not test what it says", want)
	}
}
