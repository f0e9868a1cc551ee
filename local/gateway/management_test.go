package gateway

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/internal/testkit"
)

// broadcaster is a handler that answers through the management API, as the
// chat does: "all:<text>" posts <text> to every open connection.
type broadcaster struct {
	mu     sync.Mutex
	ids    map[string]bool
	client *apigatewaymanagementapi.Client
}

func (b *broadcaster) handle(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	id := ev.RequestContext.ConnectionID
	b.mu.Lock()
	switch ev.RequestContext.RouteKey {
	case "$connect":
		b.ids[id] = true
	case "$disconnect":
		delete(b.ids, id)
	}
	var to []string
	for other := range b.ids {
		to = append(to, other)
	}
	b.mu.Unlock()
	if text, ok := strings.CutPrefix(ev.Body, "all:"); ok {
		for _, other := range to {
			if _, err := b.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(other), Data: []byte(text)}); err != nil {
				return events.APIGatewayProxyResponse{}, err
			}
		}
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

// fixedIDs hands out ids that need URL-encoding in a management API path.
func fixedIDs(ids ...string) func(*Gateway) {
	return func(g *Gateway) {
		var n atomic.Int32
		g.newID = func() string { return ids[int(n.Add(1)-1)%len(ids)] }
	}
}

func TestManagementAPIWithTheRealSDKClient(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	b := &broadcaster{ids: map[string]bool{}}
	s := start(t, b.handle, Config{}, fixedIDs("a/b+c/d+e/f+g/h=", "Zz+/Zz+/Zz+/ZzA="))
	b.client = s.managementClient()
	before := time.Now().Add(-time.Second)

	alice, aliceID := s.dial(ctx, t, "")
	bob, bobID := s.dial(ctx, t, "")

	// A handler reaches both connections through the SDK, ids with "/" and "+" included.
	write(ctx, t, alice, "all:hello")
	for _, c := range []*websocket.Conn{alice, bob} {
		if got := read(ctx, t, c); got != "hello" {
			t.Fatalf("broadcast arrived as %q", got)
		}
	}

	// The same through both paths: with the stage and without.
	withoutStage := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.base), Credentials: b.client.Options().Credentials,
	})
	for _, client := range []*apigatewaymanagementapi.Client{b.client, withoutStage} {
		if _, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(bobID), Data: []byte(`{"type":"pong"}`)}); err != nil {
			t.Fatalf("PostToConnection: %v", err)
		}
		if got := read(ctx, t, bob); got != `{"type":"pong"}` {
			t.Errorf("bob got %q", got)
		}
	}

	info, err := b.client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(aliceID)})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if info.ConnectedAt == nil || info.ConnectedAt.Before(before) || info.ConnectedAt.After(time.Now()) {
		t.Errorf("connectedAt %v", info.ConnectedAt)
	}
	if info.LastActiveAt == nil || info.LastActiveAt.Before(*info.ConnectedAt) {
		t.Errorf("lastActiveAt %v before connectedAt %v", info.LastActiveAt, info.ConnectedAt)
	}
	if info.Identity == nil || aws.ToString(info.Identity.SourceIp) != "127.0.0.1" || aws.ToString(info.Identity.UserAgent) == "" {
		t.Errorf("identity %+v", info.Identity)
	}

	if _, err := b.client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(bobID)}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if ce := closeStatusOf(ctx, t, bob); ce.Code != websocket.StatusNormalClosure {
		t.Errorf("deleted connection closed with %v, want 1000", ce)
	}
	s.events.disconnectOf(ctx, t, bobID)

	// Every operation on a connection that is gone (or never was) is GoneException.
	for _, id := range []string{bobID, "AAAAAAAAAAAAAAA="} {
		_, postErr := b.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
		_, getErr := b.client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
		_, delErr := b.client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
		for op, err := range map[string]error{"PostToConnection": postErr, "GetConnection": getErr, "DeleteConnection": delErr} {
			var gone *types.GoneException
			if !errors.As(err, &gone) {
				t.Errorf("%s %s: %v, want *types.GoneException", op, id, err)
			}
		}
	}

	_, err = b.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(aliceID), Data: make([]byte, 129<<10)})
	var tooLarge *types.PayloadTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Errorf("posting 129 KB: %v, want *types.PayloadTooLargeException", err)
	}
}

func TestManagementFaultInjection(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	var failing, stalling atomic.Bool
	const latency = 50 * time.Millisecond
	s := start(t, echo, Config{Faults: Faults{
		Latency:   latency,
		FailPost:  func(string) bool { return failing.Load() },
		StallPost: func(string) bool { return stalling.Load() },
	}})
	client := s.managementClient(func(o *apigatewaymanagementapi.Options) { o.RetryMaxAttempts = 1 })
	c, id := s.dial(ctx, t, "")
	post := func(ctx context.Context, data string) error {
		_, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte(data)})
		return err
	}

	began := time.Now()
	if _, err := client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < latency {
		t.Errorf("GetConnection took %s, want at least the injected %s", took, latency)
	}

	failing.Store(true)
	var respErr *smithyhttp.ResponseError
	if err := post(ctx, "lost"); !errors.As(err, &respErr) || respErr.HTTPStatusCode() != 500 {
		t.Errorf("failing POST: %v, want HTTP 500", err)
	}
	failing.Store(false)

	stalling.Store(true)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err := post(short, "stuck")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled POST: %v, want the caller's deadline to expire", err)
	}
	stalling.Store(false)

	if err := post(ctx, "delivered"); err != nil {
		t.Fatal(err)
	}
	if got := read(ctx, t, c); got != "delivered" {
		t.Errorf("client got %q first; failed and stalled POSTs must deliver nothing", got)
	}
}
