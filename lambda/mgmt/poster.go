// Package mgmt delivers frames through API Gateway's management API
// (@connections): the chat.Poster adapter.
package mgmt

import (
	"context"
	"errors"
	"fmt"

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
