package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/cognito"
)

// TestSignInEndToEnd runs the stack with sign-in on: the real local issuer
// (cognito-local), the real authorizer (the function's verifier, through
// the gateway's $connect authorizer call) and the real chat.
func TestSignInEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 60*time.Second)
	s := &testStack{Stack: localtest.Start(t, local.Options{
		Auth: contract.AuthCognito,
		Chat: chat.Options{StaleGrace: time.Millisecond},
		Log:  testWriter{t},
	})}
	alicesToken, err := s.Token(ctx, "alice", false)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("alice's token joins, and her account reaches $connect", func(t *testing.T) {
		alice, st := s.joinWith(ctx, t, "Alice", "lobby", alicesToken)
		must(t, st.str("you") == "Alice", "state %v", st)
		var connect *localtest.Invocation
		for _, inv := range s.Invocations() {
			if inv.Route == contract.RouteConnect && !inv.Authorizer {
				connect = &inv
			}
		}
		if connect == nil {
			t.Fatal("no $connect invocation")
		}
		sub := claims(t, alicesToken)["sub"]
		must(t, sub != "" && connect.AuthorizerContext[contract.AuthContextAccountID] == sub &&
			connect.AuthorizerContext[contract.AuthContextUsername] == "alice",
			"$connect's requestContext.authorizer %v, want accountId %v and username alice", connect.AuthorizerContext, sub)
		alice.quiet(ctx)
	})

	t.Run("a handshake without a token is refused 401", func(t *testing.T) {
		must(t, s.handshake(ctx, t, "") == http.StatusUnauthorized, "want 401")
	})

	t.Run("a tampered token is refused 403", func(t *testing.T) {
		parts := strings.Split(alicesToken, ".")
		c := claims(t, alicesToken)
		c["cognito:username"] = "mallory"
		payload, _ := json.Marshal(c)
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		must(t, s.handshake(ctx, t, tampered) == http.StatusForbidden, "want 403")
	})

	t.Run("a token of another issuer's pool is refused 403", func(t *testing.T) {
		other, err := cognito.Start(ctx, cognito.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Stop()
		tok, err := other.Token(ctx, "alice", cognito.TestUsers[0].Password)
		if err != nil {
			t.Fatal(err)
		}
		must(t, s.handshake(ctx, t, tok) == http.StatusForbidden, "want 403")
	})

	t.Run("config.json tells the page how to sign in", func(t *testing.T) {
		var c contract.PageConfig
		getJSON(ctx, t, s.PageURL+"config.json", &c)
		must(t, c.Auth == contract.AuthCognito && c.UserPoolID == s.Cognito.UserPoolID && c.UserPoolClientID == s.Cognito.ClientID &&
			c.UserPoolEndpoint == s.Cognito.Endpoint() && c.Issuer == s.Cognito.Issuer() && c.Region == cognito.Region &&
			c.WSURL == s.URL, "config.json %+v", c)
	})

	t.Run("the token endpoint signs test accounts in and makes others on request", func(t *testing.T) {
		status, body := get(ctx, t, s.PageURL+"_local/token?user=bob")
		must(t, status == 200 && claims(t, strings.TrimSpace(body))["cognito:username"] == "bob", "bob: %d %q", status, body)
		status, _ = get(ctx, t, s.PageURL+"_local/token?user=load-1")
		must(t, status == http.StatusNotFound, "an unknown account without create: %d, want 404", status)
		status, body = get(ctx, t, s.PageURL+"_local/token?user=load-1&create=1")
		must(t, status == 200, "load-1 with create: %d %q", status, body)
		s.joinWith(ctx, t, "load-1", "lobby", strings.TrimSpace(body))
		status, _ = get(ctx, t, s.PageURL+"_local/token?user=a%20b&create=1")
		must(t, status == http.StatusBadRequest, "a name with a space: %d, want 400", status)
	})

	t.Run("scripts/dev-token.sh prints a test account's token", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(s.Addr)
		script := func(user string) (string, error) {
			cmd := exec.CommandContext(ctx, "bash", "../../scripts/dev-token.sh", user)
			cmd.Env = append(os.Environ(), "PORT="+port)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				return stderr.String(), err
			}
			return string(out), nil
		}
		out, err := script("carol")
		must(t, err == nil && claims(t, strings.TrimSpace(out))["cognito:username"] == "carol", "carol: %v %q", err, out)
		out, err = script("mallory")
		must(t, err != nil && strings.Contains(out, "no such test account"), "mallory: %v %q", err, out)
	})
}

// TestTokenEndpointWithSignInOff: the stack without sign-in hands out no
// tokens, and config.json says sign-in is off.
func TestTokenEndpointWithSignInOff(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 30*time.Second)
	s := localtest.Start(t, local.Options{})
	status, body := get(ctx, t, s.PageURL+"_local/token?user=alice")
	must(t, status == http.StatusNotFound && strings.Contains(body, "sign-in is off"), "%d %q", status, body)
	var c contract.PageConfig
	getJSON(ctx, t, s.PageURL+"config.json", &c)
	must(t, c.Auth == contract.AuthNone && c.UserPoolID == "", "config.json %+v", c)
}

// TestRunWithSignInPrintsTheAccounts runs the command with AUTH=cognito.
func TestRunWithSignInPrintsTheAccounts(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 60*time.Second)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &lineWriter{lines: make(chan string, 32)}
	done := make(chan error, 1)
	env := map[string]string{"PORT": "0", "AUTH": "cognito"}
	go func() {
		done <- run(runCtx, []string{"-static", t.TempDir() + "/missing"}, func(k string) string { return env[k] }, out, testWriter{t})
	}()
	var printed []string
	for len(printed) == 0 || printed[len(printed)-1] != "Ctrl-C stops." {
		select {
		case line := <-out.lines:
			printed = append(printed, line)
		case err := <-done:
			t.Fatalf("run ended early: %v", err)
		case <-ctx.Done():
			t.Fatalf("printed %q", printed)
		}
	}
	text := strings.Join(printed, "\n")
	for _, u := range cognito.TestUsers {
		must(t, strings.Contains(text, u.Username) && strings.Contains(text, u.Password), "%s's password is not printed:\n%s", u.Username, text)
	}
	must(t, strings.Contains(text, "dev-token.sh alice"), "no dev-token.sh hint:\n%s", text)
	must(t, strings.Contains(text, "scripts/admin.sh --local http://127.0.0.1:"), "no operator endpoint:\n%s", text)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}

	err := run(ctx, []string{"-auth", "sometimes"}, func(string) string { return "" }, io.Discard, io.Discard)
	must(t, err != nil && strings.Contains(err.Error(), "-auth"), "-auth sometimes: %v", err)
}

// joinWith connects to room as name with an ID token, sends hello and
// returns the state frame once the room index has caught up (settle).
func (s *testStack) joinWith(ctx context.Context, t *testing.T, name, room, token string) (*client, frame) {
	t.Helper()
	s.settle(ctx, t)
	u := s.URL + "?" + url.Values{"name": {name}, "room": {room}, contract.AuthQueryParam: {token}}.Encode()
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatalf("%s joins %s: %v", name, room, err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	c := &client{t: t, ws: ws, name: name}
	c.send(ctx, map[string]any{"action": "hello"})
	st := c.expect(ctx, "state")
	s.settle(ctx, t)
	return c, st
}

// handshake tries to connect with token ("": none) and returns the HTTP
// status of the refusal; it fails the test if the connection opens.
func (s *testStack) handshake(ctx context.Context, t *testing.T, token string) int {
	t.Helper()
	q := url.Values{"name": {"Mallory"}}
	if token != "" {
		q.Set(contract.AuthQueryParam, token)
	}
	ws, resp, err := websocket.Dial(ctx, s.URL+"?"+q.Encode(), nil)
	if err == nil {
		_ = ws.CloseNow()
		t.Fatal("the connection opened")
	}
	if resp == nil {
		t.Fatalf("no HTTP answer: %v", err)
	}
	return resp.StatusCode
}

// claims decodes a JWT's payload, unverified.
func claims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func get(ctx context.Context, t *testing.T, u string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func getJSON(ctx context.Context, t *testing.T, u string, v any) {
	t.Helper()
	status, body := get(ctx, t, u)
	if status != 200 {
		t.Fatalf("GET %s: %d %q", u, status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}
