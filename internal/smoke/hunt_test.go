package smoke

// What an operator running `make smoke` in a pipeline would hit: what the
// run prints (its output lands in CI logs) and what it leaves in the user
// pool when something goes wrong. Fast: an in-memory user pool, no stack.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// memoryPool is a user pool whose app client allows USER_PASSWORD_AUTH; its
// ID tokens name the account and are easy to find in an output.
type memoryPool struct {
	Cognito
	mu       sync.Mutex
	users    map[string]string // username -> password
	deleted  []string
	onSignIn func() // called on each sign-in, before it answers
	mfa      bool   // the pool requires MFA: a challenge instead of tokens
	flows    []types.ExplicitAuthFlowsType
}

func (p *memoryPool) token(user string) string { return "eyJTOKEN-OF-" + user }

func (p *memoryPool) AdminCreateUser(_ context.Context, in *cip.AdminCreateUserInput, _ ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users == nil {
		p.users = map[string]string{}
	}
	p.users[aws.ToString(in.Username)] = ""
	return &cip.AdminCreateUserOutput{}, nil
}

func (p *memoryPool) AdminSetUserPassword(_ context.Context, in *cip.AdminSetUserPasswordInput, _ ...func(*cip.Options)) (*cip.AdminSetUserPasswordOutput, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[aws.ToString(in.Username)] = aws.ToString(in.Password)
	return &cip.AdminSetUserPasswordOutput{}, nil
}

func (p *memoryPool) AdminDeleteUser(_ context.Context, in *cip.AdminDeleteUserInput, _ ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.users, aws.ToString(in.Username))
	p.deleted = append(p.deleted, aws.ToString(in.Username))
	return &cip.AdminDeleteUserOutput{}, nil
}

func (p *memoryPool) DescribeUserPoolClient(context.Context, *cip.DescribeUserPoolClientInput, ...func(*cip.Options)) (*cip.DescribeUserPoolClientOutput, error) {
	flows := []types.ExplicitAuthFlowsType{types.ExplicitAuthFlowsTypeAllowUserPasswordAuth}
	if p.flows != nil {
		flows = p.flows
	}
	return &cip.DescribeUserPoolClientOutput{UserPoolClient: &types.UserPoolClientType{ExplicitAuthFlows: flows}}, nil
}

func (p *memoryPool) InitiateAuth(_ context.Context, in *cip.InitiateAuthInput, _ ...func(*cip.Options)) (*cip.InitiateAuthOutput, error) {
	if p.onSignIn != nil {
		p.onSignIn()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	user := in.AuthParameters["USERNAME"]
	if pw, ok := p.users[user]; !ok || pw != in.AuthParameters["PASSWORD"] {
		return nil, &types.NotAuthorizedException{Message: aws.String("Incorrect username or password.")}
	}
	if p.mfa {
		return &cip.InitiateAuthOutput{ChallengeName: types.ChallengeNameTypeMfaSetup, Session: aws.String("s")}, nil
	}
	return &cip.InitiateAuthOutput{AuthenticationResult: &types.AuthenticationResultType{IdToken: aws.String(p.token(user))}}, nil
}

func (p *memoryPool) left() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for u := range p.users {
		out = append(out, u)
	}
	return out
}

// closedURL is a ws:// address nothing listens on.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "ws://" + addr + "/dev"
}

func huntTarget(t *testing.T, ws string) Target {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, `{"wsUrl":%q,"userPoolClientId":"client1"}`, ws)
	}))
	t.Cleanup(page.Close)
	return Target{WSURL: ws, FrontendURL: page.URL, UserPoolID: "eu-west-1_Pool1", ClientID: "client1"}
}

// TestOperatorsSmokeLogNeverShowsATokenOrPassword: when the stage cannot be
// reached (a wrong URL, a network outage, a timeout), the run's output and
// error, which a pipeline keeps in its log, name neither the temporary
// accounts' passwords nor their ID tokens (bearer credentials, valid an
// hour).
func TestOperatorsSmokeLogNeverShowsATokenOrPassword(t *testing.T) {
	pool := &memoryPool{}
	var out strings.Builder
	steps, err := Run(t.Context(), Config{Target: huntTarget(t, closedURL(t)), Cognito: pool, Out: &out})
	if err == nil {
		t.Fatal("the smoke test passed against a stage nobody listens on")
	}
	log := out.String() + "\n" + err.Error()
	for _, s := range steps {
		if s.Err != nil {
			log += "\n" + s.Err.Error()
		}
	}
	if !strings.Contains(log, "connects") {
		t.Fatalf("the connect step did not fail:\n%s", log)
	}
	if strings.Contains(log, "eyJTOKEN-OF-") {
		t.Errorf("the output shows an ID token:\n%s", log)
	}
	if strings.Contains(log, "Sm0ke!") {
		t.Errorf("the output shows a password:\n%s", log)
	}
	if left := pool.left(); len(left) != 0 {
		t.Errorf("temporary accounts left: %q", left)
	}
}

// TestOperatorsSmokeDeletesItsAccountsWhenAStepPanics: a step that panics
// (a bug, an answer of a shape never seen) still leaves no temporary
// account behind in the operator's user pool.
func TestOperatorsSmokeDeletesItsAccountsWhenAStepPanics(t *testing.T) {
	pool := &memoryPool{onSignIn: func() { panic("an answer of a shape never seen") }}
	func() {
		defer func() { _ = recover() }()
		_, _ = Run(t.Context(), Config{Target: huntTarget(t, closedURL(t)), Cognito: pool})
	}()
	if len(pool.deleted) != 2 {
		t.Errorf("after a panic, deleted %q, want both temporary accounts; left %q", pool.deleted, pool.left())
	}
}

// TestOperatorsSmokeDeletesItsAccountsOnCtrlC: Ctrl-C (the context
// cancelled) during sign-in still deletes both accounts.
func TestOperatorsSmokeDeletesItsAccountsOnCtrlC(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	pool := &memoryPool{onSignIn: cancel}
	_, err := Run(ctx, Config{Target: huntTarget(t, closedURL(t)), Cognito: pool})
	if err == nil {
		t.Fatal("the run passed after Ctrl-C")
	}
	if left := pool.left(); len(left) != 0 || len(pool.deleted) != 2 {
		t.Errorf("after Ctrl-C, deleted %q, left %q", pool.deleted, left)
	}
}

// TestOperatorsSmokeNamesWhatThePoolAsksInsteadOfTokens: a pool that
// requires MFA, or an app client that allows neither password flow, fails
// the sign-in step with what Cognito asked for, and the accounts go.
func TestOperatorsSmokeNamesWhatThePoolAsksInsteadOfTokens(t *testing.T) {
	for _, tc := range []struct {
		pool *memoryPool
		says string
	}{
		{&memoryPool{mfa: true}, "challenge MFA_SETUP instead of tokens"},
		{&memoryPool{flows: []types.ExplicitAuthFlowsType{types.ExplicitAuthFlowsTypeAllowRefreshTokenAuth}}, "allows neither USER_PASSWORD_AUTH nor USER_SRP_AUTH"},
	} {
		_, err := Run(t.Context(), Config{Target: huntTarget(t, closedURL(t)), Cognito: tc.pool})
		if err == nil || !strings.Contains(err.Error(), "sign both accounts in") || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("error %v, want the sign-in step saying %q", err, tc.says)
		}
		if len(tc.pool.deleted) != 2 {
			t.Errorf("deleted %q, want both", tc.pool.deleted)
		}
	}
}
