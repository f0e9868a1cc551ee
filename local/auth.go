package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/local/cognito"
)

// TokenPath is the local-only endpoint that hands out ID tokens of the
// local issuer: GET /_local/token?user=NAME (create=1 makes the account
// first). scripts/dev-token.sh and the load tool sign in through it.
const TokenPath = "/_local/token"

// FunctionName is the function's name in the local Lambda API
// (Stack.Lambda), which the local issuer invokes its Pre sign-up trigger
// by.
const FunctionName = "groupchat"

// startAuth starts the local issuer when o asks for sign-in, with the
// Lambda endpoint its trigger is invoked through, and returns the
// function's verifier settings (the variables a stack deployed with auth
// cognito sets), the page's sign-in settings and the accounts to make once
// the function is registered there.
func (s *Stack) startAuth(ctx context.Context, o Options, logTo io.Writer) (env map[string]string, page contract.PageConfig, users []cognito.User, err error) {
	s.Auth = o.Auth
	if s.Auth == "" {
		s.Auth = contract.AuthNone
	}
	switch s.Auth {
	case contract.AuthNone:
		return nil, contract.PageConfig{Auth: contract.AuthNone}, nil, nil
	case contract.AuthCognito:
	default:
		return nil, page, nil, fmt.Errorf("auth %q: want %q or %q", o.Auth, contract.AuthCognito, contract.AuthNone)
	}
	co := o.Cognito
	if co.Log == nil {
		co.Log = logTo
	}
	users = co.Users
	if users == nil {
		users = cognito.TestUsers
	}
	co.Users = []cognito.User{} // made once the trigger's function is there
	co.Triggers = &cognito.Triggers{LambdaEndpoint: s.Lambda.Endpoint(), PreSignUp: FunctionName}
	if s.Cognito, err = cognito.Start(ctx, co); err != nil {
		return nil, page, nil, err
	}
	env = map[string]string{
		contract.EnvAuthIssuer:   s.Cognito.Issuer(),
		contract.EnvAuthClientID: s.Cognito.ClientID,
		contract.EnvAuthJWKSURL:  s.Cognito.JWKSURL(),
	}
	page = contract.PageConfig{
		Auth:             contract.AuthCognito,
		Region:           cognito.Region,
		UserPoolID:       s.Cognito.UserPoolID,
		UserPoolClientID: s.Cognito.ClientID,
		Issuer:           s.Cognito.Issuer(),
		UserPoolEndpoint: s.Cognito.Endpoint(),
	}
	return env, page, users, nil
}

// Token signs a test account (cognito.TestUsers) in and returns its ID
// token; with create, any other valid name is made an account first, with
// the password LoadUserPassword(name). It fails with sign-in off.
func (s *Stack) Token(ctx context.Context, user string, create bool) (string, error) {
	if s.Cognito == nil {
		return "", errSignInOff
	}
	i := slices.IndexFunc(cognito.TestUsers, func(u cognito.User) bool { return u.Username == user })
	if i >= 0 {
		return s.Cognito.Token(ctx, user, cognito.TestUsers[i].Password)
	}
	if !create {
		return "", errNoSuchAccount
	}
	if !accountName.MatchString(user) {
		return "", errBadAccountName
	}
	if err := s.createAccount(ctx, user); err != nil {
		return "", err
	}
	return s.Cognito.Token(ctx, user, LoadUserPassword(user))
}

// LoadUserPassword is the password of an account Token made: fixed and
// public, as the test accounts'.
func LoadUserPassword(user string) string { return user + "-local-Passw0rd" }

var (
	errSignInOff      = errors.New("sign-in is off (auth none): start the stack with -auth cognito")
	errNoSuchAccount  = errors.New("no such test account (alice, bob, carol, mod)")
	errBadAccountName = errors.New("an account name is 1 to 64 letters, digits, '.', '_' or '-'")
	accountName       = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// createAccount makes user an account once per stack.
func (s *Stack) createAccount(ctx context.Context, user string) error {
	s.accountsMu.Lock()
	defer s.accountsMu.Unlock()
	if s.accounts == nil {
		s.accounts = map[string]bool{}
	}
	if s.accounts[user] {
		return nil
	}
	if err := s.Cognito.CreateUser(ctx, user, LoadUserPassword(user)); err != nil {
		return err
	}
	s.accounts[user] = true
	return nil
}

// DeleteAccount deletes an account Token made (or a test account): its
// username may be made again, as a new account.
func (s *Stack) DeleteAccount(ctx context.Context, user string) error {
	if s.Cognito == nil {
		return errSignInOff
	}
	s.accountsMu.Lock()
	defer s.accountsMu.Unlock()
	delete(s.accounts, user)
	return s.Cognito.DeleteUser(ctx, user)
}

// serveToken answers TokenPath with the token as text. It answers only
// requests to a loopback host name, so that no other site a browser is
// on can reach it through DNS rebinding (and, without CORS headers, no
// other page can read its answer).
func (s *Stack) serveToken(w http.ResponseWriter, r *http.Request) {
	if host, _, err := net.SplitHostPort(r.Host); err != nil || !(host == "127.0.0.1" || host == "localhost" || host == "::1") {
		http.Error(w, "local only: use http://127.0.0.1:PORT"+TokenPath, http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "GET "+TokenPath+"?user=NAME", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	tok, err := s.Token(r.Context(), q.Get("user"), q.Get("create") == "1")
	switch {
	case errors.Is(err, errSignInOff), errors.Is(err, errNoSuchAccount):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, errBadAccountName):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case errors.Is(err, cognito.ErrSignUpRefused):
		http.Error(w, err.Error(), http.StatusConflict)
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadGateway)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, tok+"\n")
	}
}
