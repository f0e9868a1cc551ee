package chattest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/local"
)

// The test kit's management API refuses a frame over API Gateway's 128 KB
// message limit as API Gateway does, so a handler test sees the frame lost.
func TestAFrameOverTheMessageLimitIsRefusedWithPayloadTooLarge(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := NewGateway(t)
	api := apigatewaymanagementapi.NewFromConfig(local.AWSConfig(), func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(g.URL)
	})
	g.Open("c1")
	post := func(n int) error {
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
			ConnectionId: aws.String("c1"), Data: bytes.Repeat([]byte("x"), n)})
		return err
	}
	if err := post(contract.MessageLimit); err != nil {
		t.Fatalf("a frame of exactly 128 KB: %v; want it delivered", err)
	}
	err := post(contract.MessageLimit + 1)
	if !errors.As(err, new(*types.PayloadTooLargeException)) {
		t.Errorf("a frame of 128 KB + 1 byte: %v; want PayloadTooLargeException", err)
	}
	if got := g.Take("c1"); len(got) != 1 || len(got[0]) != contract.MessageLimit {
		t.Errorf("delivered %d frames; want only the one of 128 KB", len(got))
	}
	if n := g.TooLarge(); n != 1 {
		t.Errorf("TooLarge = %d; want 1", n)
	}
}
