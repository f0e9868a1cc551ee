// Sign-in: the $connect authorizer, and Invoke, the one Lambda handler that
// tells the authorizer's event from a route's. docs/auth.md tells the
// token's whole path.

package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
)

// AuthorizerRequest is API Gateway's event for the $connect REQUEST
// authorizer (contract.AuthorizerEvent, which local/gateway sends too).
type AuthorizerRequest = contract.AuthorizerEvent

// authorizerEventType is the "type" of a REQUEST authorizer's event; route
// events have no "type".
const authorizerEventType = "REQUEST"

// errNotChecked is what the authorizer returns to API Gateway when the token
// could not be checked: the handshake then fails with 500, and the client
// may retry. The cause is logged, never returned.
var errNotChecked = errors.New("the sign-in token could not be checked")

// Invoke is the function's Lambda handler. API Gateway invokes the one
// function both as the $connect authorizer and for every route, and the
// user pool as its Pre sign-up trigger (signup.go), and an operator with
// `aws lambda invoke` (operator.go): Invoke decodes the event once and
// hands it to Operate, Authorize, PreSignUp or Handle.
func (s *Service) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev struct {
		// The operator event's one key: API Gateway and Cognito never
		// send it (contract.OperatorEventKey).
		Operator      json.RawMessage `json:"groupchatOperator"`
		Shard         json.RawMessage `json:"groupchatShard"` // contract.ShardEventKey
		Type          string          `json:"type"`
		MethodArn     string          `json:"methodArn"`
		TriggerSource string          `json:"triggerSource"` // Cognito's trigger events
		Records       []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"` // the settle queue's event source mapping
		events.APIGatewayWebsocketProxyRequest
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("decode the event: %w", err)
	}
	switch {
	case ev.Operator != nil:
		return s.Operate(ctx, ev.Operator)
	case ev.Shard != nil:
		return nil, s.DeliverShard(ctx, ev.Shard)
	case len(ev.Records) > 0:
		return s.settleEvent(ctx, raw, ev.Records[0].EventSource)
	case ev.TriggerSource != "":
		return s.preSignUp(ctx, raw, ev.TriggerSource)
	case ev.Type == authorizerEventType:
		return s.Authorize(ctx, AuthorizerRequest{Type: ev.Type, MethodArn: ev.MethodArn,
			Headers: ev.Headers, MultiValueHeaders: ev.MultiValueHeaders,
			QueryStringParameters: ev.QueryStringParameters, MultiValueQueryStringParameters: ev.MultiValueQueryStringParameters,
			StageVariables: ev.StageVariables, RequestContext: ev.RequestContext})
	case ev.Type != "" || ev.MethodArn != "":
		// Another kind of authorizer event: never run a route for it.
		return nil, fmt.Errorf("an event of type %q: the function answers WebSocket routes and a REQUEST authorizer only", ev.Type)
	}
	return s.Handle(ctx, ev.APIGatewayWebsocketProxyRequest)
}

// Authorize answers the $connect authorizer. A token the Verifier accepts
// gets a policy allowing the connection, with the account in the context
// API Gateway passes to every event of the connection; a refused one gets a
// Deny (the handshake fails with 403), its reason logged and counted in
// AuthFailures. A token that could not be checked returns an error (500).
// It reads the account's item (an environment ban), writes nothing, and
// never logs the token.
func (s *Service) Authorize(ctx context.Context, req AuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	inv := s.begin(ctx, req.RequestContext)
	defer inv.end()
	if s.opt.Verifier == nil {
		// Without sign-in the stack attaches no authorizer: this event
		// should not exist. Deny rather than let anyone in unchecked.
		inv.log.Warn("authorizer event while sign-in is off: denied")
		return inv.deny(req, AuthOff), nil
	}
	id, err := s.opt.Verifier.Verify(ctx, req.QueryStringParameters[contract.AuthQueryParam])
	var refusal *Refusal
	if errors.As(err, &refusal) {
		inv.log.Info("sign-in refused", "reason", refusal.Reason)
		return inv.deny(req, refusal.Reason), nil
	}
	if err != nil {
		inv.log.Error("check the sign-in token", "error", err)
		inv.m.count(countInternal, 1)
		return events.APIGatewayCustomAuthorizerResponse{}, errNotChecked
	}
	// An environment ban: one consistent read of the account's item (a
	// ban made before it refuses this connect; one made while the
	// $connect runs is met there, or at the connection's first frame).
	a, err := s.store.Account(ctx, id.AccountID)
	if err != nil {
		inv.log.Error("read the account's bans", "error", err)
		inv.m.count(countInternal, 1)
		return events.APIGatewayCustomAuthorizerResponse{}, errNotChecked
	}
	if ban, ok := a.Bans[""]; ok && ban.Active(inv.opt.Now()) {
		inv.log.Info("sign-in refused: the account is banned from the environment", "accountId", id.AccountID)
		return inv.deny(req, AuthBanned), nil
	}
	inv.log.Info("signed in", "accountId", id.AccountID, "moderator", id.Moderator)
	authCtx := map[string]any{
		contract.AuthContextAccountID: id.AccountID,
		contract.AuthContextUsername:  id.Username,
		contract.AuthContextExpiresAt: id.ExpiresAt.Unix(),
		contract.AuthContextIssuedAt:  id.IssuedAt.Unix(),
	}
	if id.Moderator {
		authCtx[contract.AuthContextModerator] = "true"
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID:    id.AccountID,
		PolicyDocument: invokePolicy("Allow", req.MethodArn),
		Context:        authCtx,
	}, nil
}

func (inv *invocation) deny(req AuthorizerRequest, reason AuthReason) events.APIGatewayCustomAuthorizerResponse {
	inv.m.refuse(reason)
	return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "anonymous", PolicyDocument: invokePolicy("Deny", req.MethodArn)}
}

// invokePolicy allows or denies connecting: execute-api:Invoke on the
// authorizer's method ARN (…/<stage>/$connect).
func invokePolicy(effect, methodArn string) events.APIGatewayCustomAuthorizerPolicy {
	return events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{{
		Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{methodArn},
	}}}
}

// identityFrom reads the account from a $connect event's
// requestContext.authorizer: the authorizer's context, as API Gateway passes
// it (decoded from JSON), or as a Go caller builds it.
func identityFrom(authorizer any) (Identity, bool) {
	var id Identity
	switch m := authorizer.(type) {
	case map[string]any:
		id.AccountID, _ = m[contract.AuthContextAccountID].(string)
		id.Username, _ = m[contract.AuthContextUsername].(string)
		// A string as the authorizer set it; a bool if a caller decoded it so.
		mod := m[contract.AuthContextModerator]
		id.Moderator = mod == "true" || mod == true
		id.ExpiresAt = unixSeconds(m[contract.AuthContextExpiresAt])
		id.IssuedAt = unixSeconds(m[contract.AuthContextIssuedAt])
	case map[string]string:
		id.AccountID, id.Username = m[contract.AuthContextAccountID], m[contract.AuthContextUsername]
		id.Moderator = m[contract.AuthContextModerator] == "true"
		id.ExpiresAt = unixSeconds(m[contract.AuthContextExpiresAt])
		id.IssuedAt = unixSeconds(m[contract.AuthContextIssuedAt])
	}
	return id, id.AccountID != ""
}

// unixSeconds reads the authorizer context's expiry: a number as the
// authorizer returned it, or its decimal string (API Gateway may pass a
// context value on as a string). Zero when absent or unreadable: a
// connection authorized before the expiry was passed.
func unixSeconds(v any) time.Time {
	var n int64
	switch v := v.(type) {
	case float64:
		n = int64(v)
	case int64:
		n = v
	case int:
		n = int64(v)
	case json.Number:
		n, _ = v.Int64()
	case string:
		n, _ = strconv.ParseInt(v, 10, 64)
	}
	if n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}
