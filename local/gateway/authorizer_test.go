package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
)

// stubAuthorizer answers by the token: "alice" and "bob" are allowed with
// their names in the context, "deny" is denied, "boom" fails, "unauth"
// answers "Unauthorized", "slow" outlasts the deadline, "nested" puts an
// object in the context; it records every event.
type stubAuthorizer struct {
	mu     sync.Mutex
	events []AuthorizerEvent
}

func (a *stubAuthorizer) authorize(ctx context.Context, ev AuthorizerEvent) (events.APIGatewayCustomAuthorizerResponse, error) {
	a.mu.Lock()
	a.events = append(a.events, ev)
	a.mu.Unlock()
	tok := ev.QueryStringParameters[contract.AuthQueryParam]
	switch tok {
	case "boom":
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("the keys could not be fetched")
	case "unauth":
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
	case "slow":
		<-ctx.Done()
		return events.APIGatewayCustomAuthorizerResponse{}, ctx.Err()
	}
	effect := "Allow"
	if tok == "deny" {
		effect = "Deny"
	}
	resp := policy(tok, effect, ev.MethodArn)
	resp.Context = map[string]any{contract.AuthContextAccountID: "sub-" + tok, contract.AuthContextUsername: tok, "admin": false, "level": 3}
	if tok == "nested" {
		resp.Context["groups"] = []string{"a"}
	}
	return resp, nil
}

func (a *stubAuthorizer) calls() []AuthorizerEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AuthorizerEvent(nil), a.events...)
}

func policy(principal, effect string, resources ...string) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principal,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version:   "2012-10-17",
			Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: resources}},
		},
	}
}

func TestAuthorizerDecidesTheHandshake(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	auth := &stubAuthorizer{}
	s := start(t, echo, Config{Authorize: auth.authorize, HandlerTimeout: 300 * time.Millisecond})
	for _, tc := range []struct {
		name, query string
		status      int
		invoked     bool // the authorizer was asked
	}{
		{"no token: 401 without asking the authorizer", "?name=Alice", 401, false},
		{"an empty token: 401 without asking the authorizer", "?name=Alice&token=", 401, false},
		{"the token in a header does not count", "?name=Alice", 401, false},
		{"Deny: 403", "?token=deny", 403, true},
		{"the authorizer fails: 500", "?token=boom", 500, true},
		{"the authorizer answers Unauthorized: 401", "?token=unauth", 401, true},
		{"the authorizer times out: 500", "?token=slow", 500, true},
		{"a context value that is an object: 500", "?token=nested", 500, true},
	} {
		before := len(auth.calls())
		_, resp, err := websocket.Dial(ctx, s.wsURL+tc.query, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"alice"}}})
		if err == nil || resp == nil || resp.StatusCode != tc.status {
			t.Errorf("%s: %v (%v), want HTTP %d", tc.name, err, resp, tc.status)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), `"message":`) {
			t.Errorf("%s: body %q, want API Gateway's {\"message\":…}", tc.name, body)
		}
		if invoked := len(auth.calls()) > before; invoked != tc.invoked {
			t.Errorf("%s: authorizer invoked %v, want %v", tc.name, invoked, tc.invoked)
		}
	}
	if ids := s.events.connectIDs(); len(ids) != 0 {
		t.Errorf("$connect ran for refused handshakes: %v", ids)
	}

	c, _ := s.dial(ctx, t, "?name=Alice&token=alice")
	write(ctx, t, c, "hi")
	if got := read(ctx, t, c); got != "$default:hi" {
		t.Fatalf("allowed connection got %q", got)
	}
}

// The authorizer gets API Gateway's REQUEST event for a WebSocket API, and
// its context reaches $connect and every later event of the connection.
func TestAuthorizerEventAndContextAreShapedLikeAPIGateways(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	auth := &stubAuthorizer{}
	s := start(t, echo, Config{Stage: "dev", APIID: "abc123", Authorize: auth.authorize})

	c, id := s.dial(ctx, t, "?name=Alice&token=alice")
	write(ctx, t, c, `{"action":"ping"}`)
	_ = s.events.waitFor(ctx, t, "message", func(ev events.APIGatewayWebsocketProxyRequest) bool { return ev.RequestContext.EventType == "MESSAGE" })
	_ = c.Close(websocket.StatusNormalClosure, "")
	s.events.disconnectOf(ctx, t, id)

	calls := auth.calls()
	if len(calls) != 1 {
		t.Fatalf("authorizer invoked %d times, want once", len(calls))
	}
	ev := calls[0]
	rc := ev.RequestContext
	if ev.Type != "REQUEST" || ev.MethodArn != "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/$connect" {
		t.Errorf("type %q methodArn %q", ev.Type, ev.MethodArn)
	}
	if rc.RouteKey != "$connect" || rc.EventType != "CONNECT" || rc.ConnectionID != id || rc.Stage != "dev" || rc.APIID != "abc123" || !idFormat.MatchString(rc.RequestID) {
		t.Errorf("requestContext %+v", rc)
	}
	if ev.QueryStringParameters["token"] != "alice" || ev.QueryStringParameters["name"] != "Alice" || ev.Headers["Sec-Websocket-Key"] == "" {
		t.Errorf("query %v headers %v", ev.QueryStringParameters, ev.Headers)
	}
	// The JSON the function gets names the fields as AWS does.
	raw, _ := json.Marshal(ev)
	for _, field := range []string{`"type":"REQUEST"`, `"methodArn":`, `"queryStringParameters":`, `"routeKey":"$connect"`, `"connectionId":`, `"eventType":"CONNECT"`} {
		if !strings.Contains(string(raw), field) {
			t.Errorf("authorizer event JSON lacks %s: %s", field, raw)
		}
	}

	evs := s.events.all()
	if len(evs) != 3 {
		t.Fatalf("want $connect, a message, $disconnect; got %d events", len(evs))
	}
	for _, ev := range evs {
		a, _ := ev.RequestContext.Authorizer.(map[string]any)
		if a[contract.AuthContextAccountID] != "sub-alice" || a[contract.AuthContextUsername] != "alice" || a["principalId"] != "alice" {
			t.Errorf("%s: requestContext.authorizer %v", ev.RequestContext.RouteKey, ev.RequestContext.Authorizer)
		}
		// API Gateway passes numbers and booleans of the context as strings.
		if a["admin"] != "false" || a["level"] != "3" {
			t.Errorf("%s: non-string context values %#v %#v", ev.RequestContext.RouteKey, a["admin"], a["level"])
		}
		if _, ok := a["integrationLatency"]; !ok {
			t.Errorf("%s: no integrationLatency in %v", ev.RequestContext.RouteKey, a)
		}
	}
}

func TestWithoutAnAuthorizerEventsCarryNoAuthorizerContext(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, echo, Config{})
	_, id := s.dial(ctx, t, "?name=Alice&token=whatever")
	for _, ev := range s.events.all() {
		if ev.RequestContext.ConnectionID == id && ev.RequestContext.Authorizer != nil {
			t.Errorf("authorizer context %v without an authorizer", ev.RequestContext.Authorizer)
		}
	}
}

func TestAuthorizerRunsAsALambdaInvocation(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	var got struct {
		requestID string
		budget    time.Duration
	}
	s := start(t, echo, Config{HandlerTimeout: 7 * time.Second, Authorize: func(ctx context.Context, ev AuthorizerEvent) (events.APIGatewayCustomAuthorizerResponse, error) {
		lc, _ := lambdacontext.FromContext(ctx)
		dl, _ := ctx.Deadline()
		got.requestID, got.budget = lc.AwsRequestID, time.Until(dl)
		return policy("p", "Allow", ev.MethodArn), nil
	}})
	s.dial(ctx, t, "?token=t")
	if got.requestID == "" || got.budget <= 6*time.Second || got.budget > 7*time.Second {
		t.Errorf("request id %q, deadline in %s; want an id and the 7s handler timeout", got.requestID, got.budget)
	}
}

func TestAuthorizerPanicIs500(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, echo, Config{Authorize: func(context.Context, AuthorizerEvent) (events.APIGatewayCustomAuthorizerResponse, error) {
		panic("bug")
	}})
	if _, resp, err := websocket.Dial(ctx, s.wsURL+"?token=t", nil); err == nil || resp == nil || resp.StatusCode != 500 {
		t.Fatalf("%v %v, want HTTP 500", err, resp)
	}
}

func TestPolicyEvaluation(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:execute-api:us-east-1:123456789012:abc/dev/$connect"
	stmt := func(effect string, actions []string, resources ...string) events.IAMPolicyStatement {
		return events.IAMPolicyStatement{Effect: effect, Action: actions, Resource: resources}
	}
	invoke := []string{"execute-api:Invoke"}
	for _, tc := range []struct {
		name    string
		stmts   []events.IAMPolicyStatement
		allowed bool
		invalid bool
	}{
		{"Allow on the methodArn", []events.IAMPolicyStatement{stmt("Allow", invoke, arn)}, true, false},
		{"Allow on a wildcard across slashes", []events.IAMPolicyStatement{stmt("Allow", invoke, "arn:aws:execute-api:*:*:abc/*")}, true, false},
		{"Allow with ? wildcards", []events.IAMPolicyStatement{stmt("Allow", invoke, "arn:aws:execute-api:us-east-?:123456789012:abc/de?/$connect")}, true, false},
		{"Allow with an action wildcard, any case", []events.IAMPolicyStatement{stmt("Allow", []string{"Execute-API:*"}, arn)}, true, false},
		{"Allow on another API", []events.IAMPolicyStatement{stmt("Allow", invoke, "arn:aws:execute-api:us-east-1:123456789012:xyz/dev/$connect")}, false, false},
		{"Allow on another route", []events.IAMPolicyStatement{stmt("Allow", invoke, "arn:aws:execute-api:us-east-1:123456789012:abc/dev/$default")}, false, false},
		{"Allow of another action", []events.IAMPolicyStatement{stmt("Allow", []string{"execute-api:ManageConnections"}, arn)}, false, false},
		{"an explicit Deny wins", []events.IAMPolicyStatement{stmt("Allow", invoke, "*"), stmt("Deny", invoke, arn)}, false, false},
		{"Deny elsewhere does not", []events.IAMPolicyStatement{stmt("Allow", invoke, "*"), stmt("Deny", invoke, "arn:aws:execute-api:*:*:xyz/*")}, true, false},
		{"no statement is invalid", nil, false, true},
		{"an unknown effect is invalid", []events.IAMPolicyStatement{stmt("Permit", invoke, arn)}, false, true},
	} {
		allowed, err := policyAllows(events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: tc.stmts}, arn)
		if allowed != tc.allowed || (err != nil) != tc.invalid {
			t.Errorf("%s: allowed %v, error %v", tc.name, allowed, err)
		}
	}
}

func TestConnectLogLineHidesTheToken(t *testing.T) {
	t.Parallel()
	log := &testkit.Buffer{}
	auth := &stubAuthorizer{}
	s := start(t, echo, Config{Log: log, Authorize: auth.authorize})
	ctx := testkit.Context(t, 20*time.Second)
	s.dial(ctx, t, "?name=Alice&token=alice")
	_, _, _ = websocket.Dial(ctx, s.wsURL+"?name=Mallory&token=deny", nil)
	var text string
	for text = log.String(); strings.Count(text, "$connect") < 2 && ctx.Err() == nil; text = log.String() {
		time.Sleep(5 * time.Millisecond)
	}
	if strings.Contains(text, "token=alice") || strings.Contains(text, "token=deny") || strings.Count(text, "token=***") != 2 {
		t.Fatalf("log shows a token:\n%s", text)
	}
	if !strings.Contains(text, "authorizer allowed alice") || !strings.Contains(text, "refused 403: authorizer denied") {
		t.Fatalf("log does not say what the authorizer decided:\n%s", text)
	}
}

func TestRuntimeConfigCarriesThePagesSignInSettings(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, echo, Config{Page: contract.PageConfig{
		WSURL: "ignored", Auth: contract.AuthCognito, Region: "local", UserPoolID: "local_abc", UserPoolClientID: "client1",
		Issuer: "http://127.0.0.1:1/local_abc", UserPoolEndpoint: "http://127.0.0.1:1",
	}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/config.json", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"wsUrl": s.wsURL, "auth": "cognito", "region": "local", "userPoolId": "local_abc", "userPoolClientId": "client1",
		"issuer": "http://127.0.0.1:1/local_abc", "userPoolEndpoint": "http://127.0.0.1:1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("config.json %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}
