package local

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/local/gateway"
)

// Invoke is the function's Lambda handler as the Lambda runtime calls it:
// an event's JSON in, an answer the runtime turns into JSON out
// (chat.Service.Invoke, which lambda/main.go starts). The gateway's route
// events and its authorizer events both go through it as JSON, so the
// local stack runs the code path AWS runs, decoding included.
type Invoke func(ctx context.Context, event json.RawMessage) (any, error)

// routeHandler is the gateway's handler for route events.
func routeHandler(fn Invoke) gateway.Handler {
	return func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		var resp events.APIGatewayProxyResponse
		err := invokeJSON(ctx, fn, ev, &resp)
		return resp, err
	}
}

// authorizer is the gateway's $connect authorizer.
func authorizer(fn Invoke) gateway.Authorizer {
	return func(ctx context.Context, ev gateway.AuthorizerEvent) (events.APIGatewayCustomAuthorizerResponse, error) {
		var resp events.APIGatewayCustomAuthorizerResponse
		err := invokeJSON(ctx, fn, ev, &resp)
		return resp, err
	}
}

// invokeJSON sends ev to fn as JSON and decodes its answer into out, as
// the Lambda runtime and API Gateway do. fn's error is returned as it is
// (API Gateway reads an authorizer's "Unauthorized").
func invokeJSON(ctx context.Context, fn Invoke, ev, out any) error {
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode the event: %w", err)
	}
	answer, err := fn(ctx, raw)
	if err != nil {
		return err
	}
	data, err := json.Marshal(answer)
	if err != nil {
		return fmt.Errorf("encode the function's answer: %w", err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the function's answer is not a %T: %w", out, err)
	}
	return nil
}
