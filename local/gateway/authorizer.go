package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
)

// Authorizer is a Lambda handler for the $connect route's REQUEST
// authorizer: it answers with an IAM policy on the event's methodArn and a
// context, as API Gateway expects.
type Authorizer func(context.Context, AuthorizerEvent) (events.APIGatewayCustomAuthorizerResponse, error)

// AuthorizerEvent is the event API Gateway sends a WebSocket API's REQUEST
// authorizer on $connect (contract.AuthorizerEvent: the function decodes
// the same type).
type AuthorizerEvent = contract.AuthorizerEvent

// The region and account of the stand-in's method ARNs: the local stack's
// AWS configuration has us-east-1, and 123456789012 is AWS's example
// account.
const (
	arnRegion  = "us-east-1"
	arnAccount = "123456789012"
)

// unauthorized is the error message with which a Lambda authorizer makes
// API Gateway answer 401 instead of 500.
const unauthorized = "Unauthorized"

// authorize runs the authorizer for connection c's handshake r, as API
// Gateway does before $connect. It returns the requestContext.authorizer
// every event of the connection carries, or the status the handshake is
// refused with (401 without the identity source, 403 on Deny, 500 when the
// authorizer fails) and what the log line says.
func (g *Gateway) authorize(r *http.Request, connect events.APIGatewayWebsocketProxyRequest) (authorizer map[string]any, status int, outcome string) {
	if r.URL.Query().Get(contract.AuthQueryParam) == "" {
		// API Gateway checks the identity source itself and invokes
		// nothing when it is missing.
		return nil, http.StatusUnauthorized, "no " + contract.AuthIdentitySource
	}
	ev := AuthorizerEvent{
		Type:                            "REQUEST",
		MethodArn:                       g.methodARN(routeConnect),
		Headers:                         connect.Headers,
		MultiValueHeaders:               connect.MultiValueHeaders,
		QueryStringParameters:           connect.QueryStringParameters,
		MultiValueQueryStringParameters: connect.MultiValueQueryStringParameters,
		StageVariables:                  map[string]string{},
		RequestContext:                  connect.RequestContext,
	}
	var resp events.APIGatewayCustomAuthorizerResponse
	took, err := g.call(ev.RequestContext.RequestID, func(ctx context.Context) (err error) {
		resp, err = g.cfg.Authorize(ctx, ev)
		return err
	})
	switch {
	case err != nil && err.Error() == unauthorized:
		return nil, http.StatusUnauthorized, fmt.Sprintf("authorizer answered %q in %s", unauthorized, took)
	case err != nil:
		return nil, http.StatusInternalServerError, fmt.Sprintf("authorizer error after %s: %v", took, err)
	}
	allowed, err := policyAllows(resp.PolicyDocument, ev.MethodArn)
	if err == nil {
		authorizer, err = authorizerContext(resp, took)
	}
	switch {
	case err != nil:
		return nil, http.StatusInternalServerError, fmt.Sprintf("authorizer answer invalid after %s: %v", took, err)
	case !allowed:
		return nil, http.StatusForbidden, fmt.Sprintf("authorizer denied in %s", took)
	}
	return authorizer, 0, fmt.Sprintf("authorizer allowed %s in %s", clientText(resp.PrincipalID), took)
}

// methodARN is the ARN of the route the authorizer is asked about.
func (g *Gateway) methodARN(route string) string {
	return fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s", arnRegion, arnAccount, g.cfg.APIID, g.cfg.Stage, route)
}

// policyAllows evaluates the authorizer's policy for execute-api:Invoke on
// arn as IAM does: an explicit Deny wins, else a matching Allow allows,
// else it is denied.
func policyAllows(p events.APIGatewayCustomAuthorizerPolicy, arn string) (bool, error) {
	if len(p.Statement) == 0 {
		return false, fmt.Errorf("the policy has no statement")
	}
	allowed := false
	for _, st := range p.Statement {
		if !anyMatch(st.Action, "execute-api:Invoke", true) || !anyMatch(st.Resource, arn, false) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false, nil
		case "Allow":
			allowed = true
		default:
			return false, fmt.Errorf("a statement's Effect is %q, not Allow or Deny", st.Effect)
		}
	}
	return allowed, nil
}

func anyMatch(patterns []string, s string, foldCase bool) bool {
	for _, p := range patterns {
		if foldCase {
			p, s = strings.ToLower(p), strings.ToLower(s)
		}
		if wildcardMatch(p, s) {
			return true
		}
	}
	return false
}

// wildcardMatch matches s against an IAM pattern: * is any run of
// characters ("/" too), ? any one character.
func wildcardMatch(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if wildcardMatch(pattern[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		default:
			if s == "" || s[0] != pattern[0] {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		}
	}
	return s == ""
}

// authorizerContext is requestContext.authorizer as API Gateway builds it
// from the authorizer's answer: the principal, the authorizer's latency in
// milliseconds and the context, whose values must be strings, numbers or
// booleans (numbers and booleans arrive as strings).
func authorizerContext(resp events.APIGatewayCustomAuthorizerResponse, took time.Duration) (map[string]any, error) {
	out := make(map[string]any, len(resp.Context)+2)
	for k, v := range resp.Context {
		switch v := v.(type) {
		case string:
			out[k] = v
		case bool:
			out[k] = strconv.FormatBool(v)
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case json.Number:
			out[k] = v.String()
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32:
			out[k] = fmt.Sprint(v)
		default:
			return nil, fmt.Errorf("context value %q is a %T: only strings, numbers and booleans are allowed", k, v)
		}
	}
	out["principalId"] = resp.PrincipalID
	out["integrationLatency"] = took.Milliseconds()
	return out, nil
}
