// Package mgmt delivers frames through API Gateway's management API
// (@connections): the chat.Poster adapter.
package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/groupchat/groupchat/lambda/chat"
)

// API is the part of the management API client the poster calls: only
// PostToConnection, which is all the function's IAM policy allows.
type API interface {
	PostToConnection(context.Context, *apigatewaymanagementapi.PostToConnectionInput, ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
}

var _ API = (*apigatewaymanagementapi.Client)(nil)

// Poster implements chat.Poster.
type Poster struct{ api API }

var _ chat.Poster = (*Poster)(nil)

// New returns a Poster using api.
func New(api API) *Poster { return &Poster{api: api} }

// NewFromConfig builds the management API client for endpoint (the
// stage's callback URL) from awsCfg, with room for pool concurrent
// deliveries, and returns a Poster using it.
func NewFromConfig(awsCfg aws.Config, endpoint string, pool int) *Poster {
	// Keep a warm connection per concurrent delivery: the SDK's default of
	// 10 idle connections per host would reconnect on every large fan-out.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = pool
		t.MaxIdleConnsPerHost = pool
	})
	api := apigatewaymanagementapi.NewFromConfig(awsCfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.HTTPClient = httpClient
	})
	return New(api)
}

// Post sends data to one connection; a 410 Gone becomes chat.ErrGone.
func (p *Poster) Post(ctx context.Context, connID string, data []byte) error {
	_, err := p.api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &connID, Data: data})
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return chat.ErrGone
	}
	if err != nil {
		return fmt.Errorf("post to %s: %w", connID, err)
	}
	return nil
}
