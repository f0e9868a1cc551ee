package smoke_test

// The smoke test against the local stack (the code `make smoke` runs against
// a deployed one): it passes on a working stack, and fails, naming the step,
// when the page points elsewhere, when a private message reaches someone it
// was not for, and when a client without a token is let in. Its temporary
// accounts are gone afterwards in every case.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/smoke"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/cognito"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// TestOperatorsSmokeTestOfTheLocalStack runs the smoke test against one
// local stack with sign-in and DynamoDB as unkind as AWS's (make dev's),
// then against the same stack behind each fault.
func TestOperatorsSmokeTestOfTheLocalStack(t *testing.T) {
	ctx := testkit.Context(t, 3*time.Minute)
	s := localtest.Start(t, local.Options{Auth: contract.AuthCognito, DynamoDB: ddbproxy.AWSLike()})
	target := smoke.Target{WSURL: s.URL, FrontendURL: s.PageURL, UserPoolID: s.Cognito.UserPoolID, ClientID: s.Cognito.ClientID}
	idp := &recordingCognito{Client: smoke.LocalCognito(s.Cognito.Endpoint())}

	t.Run("a working stack passes every step", func(t *testing.T) {
		steps, err := runSmoke(ctx, t, smoke.Config{Target: target, Cognito: idp})
		if err != nil {
			t.Fatal(err)
		}
		if len(steps) != 9 {
			t.Errorf("%d steps, want 9", len(steps))
		}
		idp.mustHaveDeleted(ctx, t, s.Cognito)
	})

	t.Run("a page whose config.json names another WebSocket URL fails", func(t *testing.T) {
		page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"wsUrl":"wss://old.execute-api.eu-west-1.amazonaws.com/dev","auth":"cognito","userPoolClientId":"` + target.ClientID + `"}`))
		}))
		defer page.Close()
		tg := target
		tg.FrontendURL = page.URL + "/"
		steps, err := runSmoke(ctx, t, smoke.Config{Target: tg, Cognito: idp})
		mustFailOnly(t, steps, err, "config.json", "wss://old.execute-api")
		idp.mustHaveDeleted(ctx, t, s.Cognito)
	})

	t.Run("with -page-wait, a page whose build ends during the wait passes", func(t *testing.T) {
		var hits atomic.Int32
		page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws := "wss://old.execute-api.eu-west-1.amazonaws.com/dev"
			if hits.Add(1) > 1 {
				ws = target.WSURL
			}
			_, _ = w.Write([]byte(`{"wsUrl":"` + ws + `","userPoolClientId":"` + target.ClientID + `"}`))
		}))
		defer page.Close()
		tg := target
		tg.FrontendURL = page.URL
		if _, err := runSmoke(ctx, t, smoke.Config{Target: tg, Cognito: idp, PageWait: 2 * time.Second}); err != nil {
			t.Fatal(err)
		}
		if hits.Load() != 2 {
			t.Errorf("config.json read %d times, want 2", hits.Load())
		}
		idp.mustHaveDeleted(ctx, t, s.Cognito)
	})

	t.Run("a private message that reaches a third party fails", func(t *testing.T) {
		p := newLeakyProxy(t, s.URL)
		tg := target
		tg.WSURL = p.URL
		// The page names the proxy, so only the leak is wrong.
		page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"wsUrl":"` + p.URL + `","userPoolClientId":"` + target.ClientID + `"}`))
		}))
		defer page.Close()
		tg.FrontendURL = page.URL
		steps, err := runSmoke(ctx, t, smoke.Config{Target: tg, Cognito: idp})
		mustFailOnly(t, steps, err, "exactly once", `"smoke `)
		if !strings.Contains(err.Error(), "private to self\" 1 times, want 0") {
			t.Errorf("the error does not name the leaked message: %v", err)
		}
		idp.mustHaveDeleted(ctx, t, s.Cognito)
	})

	t.Run("wrong configured accounts fail at sign-in and are not deleted", func(t *testing.T) {
		accounts := []smoke.Account{{Username: "alice", Password: "wrong-Passw0rd!"}, {Username: "bob", Password: cognito.TestUsers[1].Password}}
		steps, err := runSmoke(ctx, t, smoke.Config{Target: target, Cognito: idp, Accounts: accounts})
		mustFailOnly(t, steps, err, "sign both accounts in", "alice")
		if _, err := s.Cognito.Token(ctx, "bob", cognito.TestUsers[1].Password); err != nil {
			t.Errorf("a configured account was touched: %v", err)
		}
	})
}

// TestOperatorsSmokeTestFailsWhenAClientWithoutATokenIsAdmitted: a stage
// that lets anyone in (sign-in off, though the page's pool exists) fails.
func TestOperatorsSmokeTestFailsWhenAClientWithoutATokenIsAdmitted(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	s := localtest.Start(t, local.Options{Auth: contract.AuthNone})
	pool, err := cognito.Start(ctx, cognito.Options{Users: []cognito.User{}})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Stop()
	idp := &recordingCognito{Client: smoke.LocalCognito(pool.Endpoint())}
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"wsUrl":"` + s.URL + `","userPoolClientId":"` + pool.ClientID + `"}`))
	}))
	defer page.Close()
	target := smoke.Target{WSURL: s.URL, FrontendURL: page.URL, UserPoolID: pool.UserPoolID, ClientID: pool.ClientID}
	steps, err := runSmoke(ctx, t, smoke.Config{Target: target, Cognito: idp})
	mustFailOnly(t, steps, err, "without a token", "admitted")
	idp.mustHaveDeleted(ctx, t, pool)
}

func runSmoke(ctx context.Context, t *testing.T, cfg smoke.Config) ([]smoke.Step, error) {
	t.Helper()
	var out strings.Builder
	cfg.Out = &out
	steps, err := smoke.Run(ctx, cfg)
	t.Logf("smoke test:\n%s", out.String())
	return steps, err
}

// mustFailOnly: exactly one step failed, its name has step, and the error
// says why.
func mustFailOnly(t *testing.T, steps []smoke.Step, err error, step, why string) {
	t.Helper()
	if err == nil {
		t.Fatal("the smoke test passed")
	}
	var failed []string
	for _, s := range steps {
		if s.Err != nil {
			failed = append(failed, s.Name)
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0], step) {
		t.Errorf("failed steps %q, want only the one about %q", failed, step)
	}
	if !strings.Contains(err.Error(), why) {
		t.Errorf("error %q does not say %q", err, why)
	}
}

// recordingCognito remembers the accounts the smoke test made.
type recordingCognito struct {
	*cip.Client
	mu      sync.Mutex
	created []string
}

func (c *recordingCognito) AdminCreateUser(ctx context.Context, in *cip.AdminCreateUserInput, opts ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error) {
	c.mu.Lock()
	c.created = append(c.created, *in.Username)
	c.mu.Unlock()
	return c.Client.AdminCreateUser(ctx, in, opts...)
}

// mustHaveDeleted: the run made two accounts, and neither exists any more.
func (c *recordingCognito) mustHaveDeleted(ctx context.Context, t *testing.T, pool *cognito.Server) {
	t.Helper()
	c.mu.Lock()
	created := c.created
	c.created = nil
	c.mu.Unlock()
	if len(created) != 2 {
		t.Fatalf("the run made accounts %q, want two", created)
	}
	for _, u := range created {
		_, err := c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(pool.UserPoolID), Username: aws.String(u)})
		var missing *types.UserNotFoundException
		if !errors.As(err, &missing) {
			t.Errorf("temporary account %s is still there: %v", u, err)
		}
	}
}

// leakyProxy relays WebSocket connections to a stage and hands every
// private frame to every connection it relays: a broken deliverer.
type leakyProxy struct {
	*httptest.Server
	URL string

	mu    sync.Mutex
	conns []*websocket.Conn
}

func newLeakyProxy(t *testing.T, upstream string) *leakyProxy {
	p := &leakyProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up, resp, err := websocket.Dial(r.Context(), upstream+"?"+r.URL.RawQuery, nil)
		if err != nil {
			status := http.StatusBadGateway
			if resp != nil {
				status = resp.StatusCode
			}
			w.WriteHeader(status)
			return
		}
		defer up.CloseNow()
		down, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer down.CloseNow()
		p.mu.Lock()
		p.conns = append(p.conns, down)
		p.mu.Unlock()
		ctx := context.WithoutCancel(r.Context())
		go func() {
			for {
				typ, data, err := down.Read(ctx)
				if err != nil || up.Write(ctx, typ, data) != nil {
					_ = up.CloseNow()
					return
				}
			}
		}()
		for {
			typ, data, err := up.Read(ctx)
			if err != nil {
				return
			}
			targets := []*websocket.Conn{down}
			if strings.Contains(string(data), `"type":"private"`) {
				p.mu.Lock()
				targets = append([]*websocket.Conn(nil), p.conns...)
				p.mu.Unlock()
			}
			for _, c := range targets {
				_ = c.Write(ctx, typ, data)
			}
		}
	}))
	t.Cleanup(p.Server.Close)
	p.URL = "ws" + strings.TrimPrefix(p.Server.URL, "http") + "/dev"
	return p
}
