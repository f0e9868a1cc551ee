package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/auth"
	"github.com/groupchat/groupchat/lambda/auth/authtest"
	"github.com/groupchat/groupchat/lambda/chat"
)

const methodArn = "arn:aws:execute-api:eu-west-1:123456789012:abc123/test/$connect"

// signIn is a harness whose service verifies tokens of a test pool, with
// its log captured.
type signIn struct {
	*chattest.Harness
	pool *authtest.Pool
	log  *testkit.Buffer
}

func newSignIn(t *testing.T) *signIn {
	t.Helper()
	s := &signIn{pool: authtest.NewPool(t), log: &testkit.Buffer{}}
	s.Harness = chattest.New(t, func(o *chat.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.Verifier = auth.New(auth.Config{Issuer: s.pool.Issuer, ClientID: authtest.ClientID, JWKSURL: s.pool.JWKSURL, Now: o.Now})
	})
	return s
}

// authorizerEvent is the event API Gateway sends the $connect authorizer.
func authorizerEvent(connID, token string) chat.AuthorizerRequest {
	return chat.AuthorizerRequest{
		Type: "REQUEST", MethodArn: methodArn,
		QueryStringParameters: map[string]string{contract.AuthQueryParam: token, "room": "lobby"},
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: contract.RouteConnect, EventType: "CONNECT", ConnectionID: connID, Stage: "test", APIID: "abc123",
		},
	}
}

// connectEvent is a $connect event; authorizer is its
// requestContext.authorizer (nil: none).
func connectEvent(connID string, authorizer map[string]any) events.APIGatewayWebsocketProxyRequest {
	return events.APIGatewayWebsocketProxyRequest{
		QueryStringParameters: map[string]string{"name": "Alice", contract.AuthQueryParam: "t"},
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: contract.RouteConnect, EventType: "CONNECT", ConnectionID: connID, Stage: "test",
			Authorizer: authorizer,
		},
	}
}

func statement(t *testing.T, resp events.APIGatewayCustomAuthorizerResponse) events.IAMPolicyStatement {
	t.Helper()
	st := resp.PolicyDocument.Statement
	if resp.PolicyDocument.Version != "2012-10-17" || len(st) != 1 || len(st[0].Action) != 1 || st[0].Action[0] != "execute-api:Invoke" ||
		len(st[0].Resource) != 1 || st[0].Resource[0] != methodArn {
		t.Fatalf("policy %+v, want one statement on execute-api:Invoke for %s", resp.PolicyDocument, methodArn)
	}
	return st[0]
}

// authFailures returns the AuthFailures counted per reason in the metrics lines.
func authFailures(t *testing.T, metrics string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for line := range strings.Lines(metrics) {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("metrics line is not JSON: %q", line)
		}
		if n, ok := doc[contract.MetricAuthFailures].(float64); ok {
			reason, _ := doc[contract.MetricDimensionReason].(string)
			out[reason] += int(n)
			if !strings.Contains(line, `"Dimensions":[["Stage","Reason"]]`) {
				t.Errorf("AuthFailures without the dimensions Stage and Reason: %s", line)
			}
		}
	}
	return out
}

func TestAValidTokenIsAllowedWithTheAccountInTheContext(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	resp, err := s.Service.Authorize(context.Background(), authorizerEvent("c1", s.pool.Token(s.Now(), "sub-1", "alice")))
	if err != nil {
		t.Fatal(err)
	}
	if st := statement(t, resp); st.Effect != "Allow" {
		t.Fatalf("effect %q, want Allow", st.Effect)
	}
	if resp.PrincipalID != "sub-1" || resp.Context[contract.AuthContextAccountID] != "sub-1" || resp.Context[contract.AuthContextUsername] != "alice" {
		t.Fatalf("principal %q, context %v; want the account sub-1 called alice", resp.PrincipalID, resp.Context)
	}
	if n := authFailures(t, s.Metrics.String()); len(n) != 0 {
		t.Fatalf("AuthFailures counted for an allowed token: %v", n)
	}
}

// Every refusal is a Deny (API Gateway answers the handshake with 403),
// counted by its reason, logged with its reason and without the token, and
// nothing is written to any table.
func TestRefusedTokensAreDeniedCountedByReasonAndWriteNothing(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	now := s.Now()
	claims := func(change func(map[string]any)) map[string]any {
		c := s.pool.Claims(now, "sub-1", "alice")
		change(c)
		return c
	}
	forger := authtest.NewKey(t, s.pool.SigningKey().ID)
	cases := []struct {
		name, token string
		want        chat.AuthReason
	}{
		{"no token", "", chat.AuthMissing},
		{"forged", authtest.Sign(forger, s.pool.Claims(now, "sub-1", "alice")), chat.AuthBadSignature},
		{"alg none", authtest.Segment(map[string]any{"alg": "none"}) + "." + authtest.Segment(s.pool.Claims(now, "sub-1", "alice")) + ".", chat.AuthBadSignature},
		{"expired", authtest.Sign(s.pool.SigningKey(), claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), chat.AuthExpired},
		{"not yet valid", authtest.Sign(s.pool.SigningKey(), claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })), chat.AuthNotYetValid},
		{"another pool", authtest.Sign(s.pool.SigningKey(), claims(func(c map[string]any) { c["iss"] = "https://elsewhere/pool" })), chat.AuthWrongIssuer},
		{"another client", authtest.Sign(s.pool.SigningKey(), claims(func(c map[string]any) { c["aud"] = "other" })), chat.AuthWrongAudience},
		{"an access token", authtest.Sign(s.pool.SigningKey(), claims(func(c map[string]any) { c["token_use"] = "access" })), chat.AuthWrongTokenUse},
		{"a 5,000-character sub", authtest.Sign(s.pool.SigningKey(), claims(func(c map[string]any) { c["sub"] = strings.Repeat("s", 5000) })), chat.AuthClaimTooLong},
		{"a 5,000-character username", authtest.Sign(s.pool.SigningKey(), claims(func(c map[string]any) { c["cognito:username"] = strings.Repeat("u", 5000) })), chat.AuthClaimTooLong},
	}
	want := map[string]int{}
	for i, tc := range cases {
		resp, err := s.Service.Authorize(context.Background(), authorizerEvent(fmt.Sprint("c", i), tc.token))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if st := statement(t, resp); st.Effect != "Deny" || len(resp.Context) != 0 {
			t.Errorf("%s: effect %q, context %v; want Deny and no context", tc.name, st.Effect, resp.Context)
		}
		want[string(tc.want)]++
	}
	if got := authFailures(t, s.Metrics.String()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("AuthFailures %v, want %v", got, want)
	}
	if n := s.DynamoDB.Counts(); len(n) != 0 {
		t.Errorf("refusals made DynamoDB requests: %v", n)
	}
	logged := s.log.String()
	for _, long := range []string{strings.Repeat("s", 200), strings.Repeat("u", 200)} {
		if strings.Contains(logged, long) {
			t.Errorf("a 5,000-character claim is in the log (%d bytes)", len(logged))
		}
	}
	for _, tc := range cases {
		if tc.token != "" && strings.Contains(logged+s.Metrics.String(), tc.token) {
			t.Errorf("%s: the token is in the log", tc.name)
		}
		if !strings.Contains(logged, `"reason":"`+string(tc.want)+`"`) {
			t.Errorf("%s: the log does not give the reason %q", tc.name, tc.want)
		}
	}
}

// Not even in part: a token's signature (its last segment) is secret
// material too, and the key set failing must not pull it into an error.
func TestTheTokenIsNeverLogged(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	good := s.pool.Token(s.Now(), "sub-1", "alice")
	forged := authtest.Sign(authtest.NewKey(t, "made-up"), s.pool.Claims(s.Now(), "sub-1", "alice"))
	if _, err := s.Service.Authorize(context.Background(), authorizerEvent("c1", good)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Service.Authorize(context.Background(), authorizerEvent("c2", forged)); err != nil {
		t.Fatal(err)
	}
	s.pool.SetDown(true)
	s.Advance(2 * time.Minute) // the next unknown key id fetches again, and fails
	rotated := authtest.Sign(authtest.NewKey(t, "key-2"), s.pool.Claims(s.Now(), "sub-1", "alice"))
	if _, err := s.Service.Authorize(context.Background(), authorizerEvent("c3", rotated)); err == nil {
		t.Fatal("the key set is down, yet the authorizer did not fail")
	}
	all := s.log.String() + s.Metrics.String()
	for _, token := range []string{good, forged, rotated} {
		for i, part := range strings.Split(token, ".") {
			if len(part) > 8 && strings.Contains(all, part) {
				t.Errorf("segment %d of a token is in the log:\n%s", i, all)
			}
		}
	}
}

// When the keys cannot be fetched the authorizer fails: API Gateway answers
// the handshake with 500 (the client may retry), not 403 (its token is bad).
func TestAKeySetThatCannotBeFetchedFailsTheAuthorizer(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	s.pool.SetDown(true)
	_, err := s.Service.Authorize(context.Background(), authorizerEvent("c1", s.pool.Token(s.Now(), "sub-1", "alice")))
	if err == nil {
		t.Fatal("the authorizer answered without the keys")
	}
	if strings.Contains(err.Error(), s.pool.JWKSURL) {
		t.Errorf("the error returned to API Gateway carries the cause (%v); the cause belongs in the log", err)
	}
	if !strings.Contains(s.log.String(), "503") {
		t.Errorf("the log does not say why: %s", s.log.String())
	}
	if !strings.Contains(s.Metrics.String(), `"`+contract.MetricInternalErrors+`":1`) {
		t.Errorf("not counted as an internal error: %s", s.Metrics.String())
	}
}

// Without sign-in the stack attaches no authorizer; should an authorizer
// event come all the same, nobody is let in unchecked.
func TestAnAuthorizerEventWithSignInOffIsDenied(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	resp, err := h.Service.Authorize(context.Background(), authorizerEvent("c1", "anything"))
	if err != nil {
		t.Fatal(err)
	}
	if st := statement(t, resp); st.Effect != "Deny" {
		t.Fatalf("effect %q, want Deny", st.Effect)
	}
	if got := authFailures(t, h.Metrics.String()); got[string(chat.AuthOff)] != 1 {
		t.Fatalf("AuthFailures %v, want one %s", got, chat.AuthOff)
	}
}

func TestConnectKeepsTheSignedInAccount(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	id := chattest.NewConnID()
	resp, err := s.Service.Handle(context.Background(), connectEvent(id, map[string]any{
		"principalId": "sub-1", contract.AuthContextAccountID: "sub-1", contract.AuthContextUsername: "alice", "integrationLatency": 12.0,
	}))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("$connect: %d %v", resp.StatusCode, err)
	}
	c, err := s.Store.GetConnection(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.AccountID != "sub-1" || c.Username != "alice" || c.Name != "Alice" {
		t.Fatalf("connection %+v, want the account sub-1 (alice) under the name it asked for", c)
	}
}

// With sign-in on, a $connect without the authorizer's context means the
// authorizer is not attached: refused before anything is written.
func TestConnectWithoutTheAuthorizersContextIsRefusedWhenSignInIsOn(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	for _, authorizer := range []map[string]any{nil, {"principalId": "x"}} {
		resp, err := s.Service.Handle(context.Background(), connectEvent(chattest.NewConnID(), authorizer))
		if err != nil || resp.StatusCode != 401 {
			t.Fatalf("authorizer %v: status %d, error %v; want 401", authorizer, resp.StatusCode, err)
		}
	}
	if n := s.DynamoDB.Counts(); len(n) != 0 {
		t.Errorf("refused $connects made DynamoDB requests: %v", n)
	}
	if got := authFailures(t, s.Metrics.String()); got[string(chat.AuthNoContext)] != 2 {
		t.Errorf("AuthFailures %v, want two %s", got, chat.AuthNoContext)
	}
}

// With sign-in off the account is not recorded, whatever an event carries.
func TestConnectWithSignInOffRecordsNoAccount(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	id := chattest.NewConnID()
	resp, err := h.Service.Handle(context.Background(), connectEvent(id, map[string]any{contract.AuthContextAccountID: "sub-1"}))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("$connect: %d %v", resp.StatusCode, err)
	}
	if c, err := h.Store.GetConnection(context.Background(), id); err != nil || c.AccountID != "" {
		t.Fatalf("connection %+v, error %v; want no account", c, err)
	}
}

// The one function gets both kinds of event as JSON; Invoke tells them
// apart and answers each in its own shape.
func TestInvokeRoutesTheAuthorizersEventAndTheRoutesEvents(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	token := s.pool.Token(s.Now(), "sub-1", "alice")
	connID := "L0SM9cOFvHcCIhw="

	// The authorizer's event, as API Gateway sends it for a WebSocket API.
	authorizerJSON := fmt.Sprintf(`{
	  "type": "REQUEST",
	  "methodArn": %q,
	  "headers": {"Host": "abc123.execute-api.eu-west-1.amazonaws.com", "Sec-WebSocket-Version": "13", "Upgrade": "websocket"},
	  "multiValueHeaders": {"Host": ["abc123.execute-api.eu-west-1.amazonaws.com"]},
	  "queryStringParameters": {"token": %q, "name": "Alice"},
	  "multiValueQueryStringParameters": {"token": [%q], "name": ["Alice"]},
	  "stageVariables": {},
	  "requestContext": {
	    "routeKey": "$connect", "eventType": "CONNECT", "extendedRequestId": "x", "requestTime": "26/Nov/2026:12:00:00 +0000",
	    "messageDirection": "IN", "stage": "test", "connectedAt": 1795694400000, "requestTimeEpoch": 1795694400000,
	    "identity": {"sourceIp": "192.0.2.1"}, "requestId": "r1", "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
	    "connectionId": %q, "apiId": "abc123"
	  }
	}`, methodArn, token, token, connID)
	out, err := s.Service.Invoke(context.Background(), json.RawMessage(authorizerJSON))
	if err != nil {
		t.Fatal(err)
	}
	policy, ok := out.(events.APIGatewayCustomAuthorizerResponse)
	if !ok {
		t.Fatalf("the authorizer's event was answered with a %T", out)
	}
	if statement(t, policy).Effect != "Allow" {
		t.Fatalf("policy %+v, want Allow", policy.PolicyDocument)
	}
	// What Lambda sends back to API Gateway.
	answer, _ := json.Marshal(out)
	for _, want := range []string{`"principalId":"sub-1"`, `"Effect":"Allow"`, `"Action":["execute-api:Invoke"]`, `"accountId":"sub-1"`, `"username":"alice"`} {
		if !strings.Contains(string(answer), want) {
			t.Errorf("the answer %s has no %s", answer, want)
		}
	}

	// $connect, with the authorizer's context as API Gateway passes it.
	connectJSON := fmt.Sprintf(`{
	  "headers": {"Host": "abc123.execute-api.eu-west-1.amazonaws.com"},
	  "queryStringParameters": {"token": %q, "name": "Alice"},
	  "requestContext": {
	    "routeKey": "$connect", "eventType": "CONNECT", "stage": "test", "requestId": "r2", "connectionId": %q, "apiId": "abc123",
	    "connectedAt": 1795694400000, "requestTimeEpoch": 1795694400000, "messageDirection": "IN",
	    "authorizer": {"principalId": "sub-1", "accountId": "sub-1", "username": "alice", "integrationLatency": 12}
	  },
	  "isBase64Encoded": false
	}`, token, connID)
	out, err = s.Service.Invoke(context.Background(), json.RawMessage(connectJSON))
	if resp, ok := out.(events.APIGatewayProxyResponse); err != nil || !ok || resp.StatusCode != 200 {
		t.Fatalf("$connect answered %#v, %v", out, err)
	}
	if c, err := s.Store.GetConnection(context.Background(), connID); err != nil || c.AccountID != "sub-1" || c.Username != "alice" {
		t.Fatalf("connection %+v, error %v", c, err)
	}

	// A frame on $default.
	pingJSON := fmt.Sprintf(`{"body": "{\"action\":\"ping\"}", "requestContext": {"routeKey": "$default", "eventType": "MESSAGE",
	  "stage": "test", "requestId": "r3", "connectionId": %q, "apiId": "abc123", "messageDirection": "IN",
	  "authorizer": {"principalId": "sub-1", "accountId": "sub-1", "username": "alice"}}, "isBase64Encoded": false}`, connID)
	out, err = s.Service.Invoke(context.Background(), json.RawMessage(pingJSON))
	if resp, ok := out.(events.APIGatewayProxyResponse); err != nil || !ok || !strings.Contains(resp.Body, `"pong"`) {
		t.Fatalf("ping answered %#v, %v", out, err)
	}
}

// An event of another kind never runs a route: a TOKEN authorizer's event
// for $connect is an error, not a connection.
func TestInvokeRefusesOtherEventKinds(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	for _, raw := range []string{
		`{"type": "TOKEN", "authorizationToken": "x", "methodArn": "` + methodArn + `"}`,
		`{"methodArn": "` + methodArn + `", "requestContext": {"routeKey": "$connect", "connectionId": "c1"}}`,
		`not json`,
	} {
		if out, err := s.Service.Invoke(context.Background(), json.RawMessage(raw)); err == nil {
			t.Errorf("%s: answered %#v, want an error", raw, out)
		}
	}
	if n := s.DynamoDB.Counts(); len(n) != 0 {
		t.Errorf("DynamoDB requests: %v", n)
	}
}
