package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/lambda/auth"
	"github.com/groupchat/groupchat/lambda/auth/authtest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// clock is a test clock that starts at a fixed second.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func verifier(p *authtest.Pool, c *clock) *auth.Verifier {
	return auth.New(auth.Config{Issuer: p.Issuer, ClientID: authtest.ClientID, JWKSURL: p.JWKSURL, Now: c.Now})
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// reason returns why err refuses a token, failing the test when err is not
// a refusal.
func reason(t *testing.T, err error) chat.AuthReason {
	t.Helper()
	var r *chat.Refusal
	if !errors.As(err, &r) {
		t.Fatalf("error %v, want a refusal", err)
	}
	return r.Reason
}

func TestAValidIDTokenGivesItsAccount(t *testing.T) {
	t.Parallel()
	p, c := authtest.NewPool(t), newClock()
	id, err := verifier(p, c).Verify(ctx(t), p.Token(c.Now(), "sub-1", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	// The connection's sign-in ends at the token's exp (reauth.go).
	if want := (chat.Identity{AccountID: "sub-1", Username: "alice", ExpiresAt: time.Unix(c.Now().Add(time.Hour).Unix(), 0)}); !id.ExpiresAt.Equal(want.ExpiresAt) ||
		id.AccountID != want.AccountID || id.Username != want.Username {
		t.Fatalf("identity %+v, want %+v", id, want)
	}
}

func TestTheUsernameFallsBackToTheUsernameClaim(t *testing.T) {
	t.Parallel()
	p, c := authtest.NewPool(t), newClock()
	claims := p.Claims(c.Now(), "sub-1", "")
	delete(claims, "cognito:username")
	claims["username"] = "alice"
	id, err := verifier(p, c).Verify(ctx(t), authtest.Sign(p.SigningKey(), claims))
	if err != nil || id.Username != "alice" {
		t.Fatalf("identity %+v, error %v", id, err)
	}
}

// NumericDate claims are JSON numbers and may have a fraction (RFC 7519).
func TestDatesWithAFractionAreRead(t *testing.T) {
	t.Parallel()
	p, c := authtest.NewPool(t), newClock()
	claims := p.Claims(c.Now(), "sub-1", "alice")
	claims["exp"] = float64(c.Now().Add(time.Hour).Unix()) + 0.5
	claims["iat"] = float64(c.Now().Unix()) + 0.25
	id, err := verifier(p, c).Verify(ctx(t), authtest.Sign(p.SigningKey(), claims))
	if err != nil || !id.ExpiresAt.Equal(time.Unix(c.Now().Add(time.Hour).Unix(), 0)) {
		t.Fatalf("identity %+v, error %v", id, err)
	}
}

func TestRefusedTokens(t *testing.T) {
	t.Parallel()
	p, c := authtest.NewPool(t), newClock()
	now := c.Now()
	signed := func(change func(map[string]any)) string {
		claims := p.Claims(now, "sub-1", "alice")
		change(claims)
		return authtest.Sign(p.SigningKey(), claims)
	}
	valid := p.Token(now, "sub-1", "alice")
	head, rest, _ := strings.Cut(valid, ".")
	_, sig, _ := strings.Cut(rest, ".")
	other := authtest.NewKey(t, p.SigningKey().ID) // the pool's key id, another key

	for _, tc := range []struct {
		name  string
		token string
		want  chat.AuthReason
	}{
		{"no token", "", chat.AuthMissing},
		{"not a JWS", "hello", chat.AuthMalformed},
		{"a JWS in JSON serialization", `{"payload":"e30","signatures":[]}`, chat.AuthMalformed},
		{"too long", strings.Repeat("a", 20000), chat.AuthMalformed},
		{"signed with another key under the pool's key id", authtest.Sign(other, p.Claims(now, "sub-1", "alice")), chat.AuthBadSignature},
		{"alg none, no signature", authtest.Segment(map[string]any{"alg": "none", "kid": p.SigningKey().ID}) + "." +
			authtest.Segment(p.Claims(now, "sub-1", "alice")) + ".", chat.AuthBadSignature},
		{"alg HS256", authtest.Segment(map[string]any{"alg": "HS256", "kid": p.SigningKey().ID}) + "." +
			authtest.Segment(p.Claims(now, "sub-1", "alice")) + "." + sig, chat.AuthBadSignature},
		{"alg RS512, signed by the pool's key", authtest.SignAlg(p.SigningKey(), "RS512", p.Claims(now, "sub-1", "alice")), chat.AuthBadSignature},
		{"alg PS256, signed by the pool's key", authtest.SignAlg(p.SigningKey(), "PS256", p.Claims(now, "sub-1", "alice")), chat.AuthBadSignature},
		{"payload altered after signing", head + "." + authtest.Segment(p.Claims(now, "sub-2", "mallory")) + "." + sig, chat.AuthBadSignature},
		{"a JWS with a fourth segment", valid + "." + sig, chat.AuthMalformed},
		{"a padded signature", valid + "==", chat.AuthMalformed},
		{"a critical extension (RFC 7515 4.1.11: refused when not understood)", authtest.SignHeader(p.SigningKey(),
			map[string]any{"alg": "RS256", "kid": p.SigningKey().ID, "crit": []string{"b64"}, "b64": false}, p.Claims(now, "sub-1", "alice")), chat.AuthMalformed},
		{"aud is a number", signed(func(m map[string]any) { m["aud"] = 7 }), chat.AuthMalformed},
		{"no key id", authtest.SignHeader(p.SigningKey(), map[string]any{"alg": "RS256"}, p.Claims(now, "sub-1", "alice")), chat.AuthBadSignature},
		{"expired", signed(func(m map[string]any) { m["exp"] = now.Add(-2 * time.Minute).Unix() }), chat.AuthExpired},
		{"no expiry", signed(func(m map[string]any) { delete(m, "exp") }), chat.AuthMalformed},
		{"not yet valid (nbf)", signed(func(m map[string]any) { m["nbf"] = now.Add(5 * time.Minute).Unix() }), chat.AuthNotYetValid},
		{"issued in the future", signed(func(m map[string]any) { m["iat"] = now.Add(5 * time.Minute).Unix() }), chat.AuthNotYetValid},
		{"another issuer", signed(func(m map[string]any) { m["iss"] = "http://localhost:9229/local_pool" }), chat.AuthWrongIssuer},
		{"the issuer with a trailing slash", signed(func(m map[string]any) { m["iss"] = p.Issuer + "/" }), chat.AuthWrongIssuer},
		{"another app client", signed(func(m map[string]any) { m["aud"] = "other-client" }), chat.AuthWrongAudience},
		{"several audiences", signed(func(m map[string]any) { m["aud"] = []string{authtest.ClientID, "other-client"} }), chat.AuthWrongAudience},
		{"an access token", signed(func(m map[string]any) {
			m["token_use"] = "access"
			delete(m, "aud")
			m["client_id"] = authtest.ClientID
		}), chat.AuthWrongAudience},
		{"an access token with the client as audience", signed(func(m map[string]any) { m["token_use"] = "access" }), chat.AuthWrongTokenUse},
		{"no token_use", signed(func(m map[string]any) { delete(m, "token_use") }), chat.AuthWrongTokenUse},
		{"no subject", signed(func(m map[string]any) { delete(m, "sub") }), chat.AuthMalformed},
		{"no username", signed(func(m map[string]any) { delete(m, "cognito:username") }), chat.AuthMalformed},
		{"exp is not a number", signed(func(m map[string]any) { m["exp"] = "tomorrow" }), chat.AuthMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := verifier(p, c).Verify(ctx(t), tc.token)
			if got := reason(t, err); got != tc.want {
				t.Errorf("reason %q, want %q", got, tc.want)
			}
			if id != (chat.Identity{}) {
				t.Errorf("a refused token gave the identity %+v", id)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Errorf("the error carries the token: %v", err)
			}
		})
	}
}

// Clocks disagree a little: a token is good until a minute past its exp and
// from a minute before its iat, no further.
func TestTheClockSkewIsOneMinute(t *testing.T) {
	t.Parallel()
	p, c := authtest.NewPool(t), newClock()
	v := verifier(p, c)
	now := c.Now()
	for _, tc := range []struct {
		name  string
		claim string
		at    time.Time
		want  chat.AuthReason // "" accepted
	}{
		{"exp 59 s ago", "exp", now.Add(-59 * time.Second), ""},
		{"exp 60 s ago", "exp", now.Add(-60 * time.Second), chat.AuthExpired},
		{"iat 59 s ahead", "iat", now.Add(59 * time.Second), ""},
		{"iat 61 s ahead", "iat", now.Add(61 * time.Second), chat.AuthNotYetValid},
		{"nbf 59 s ahead", "nbf", now.Add(59 * time.Second), ""},
		{"nbf 61 s ahead", "nbf", now.Add(61 * time.Second), chat.AuthNotYetValid},
	} {
		claims := p.Claims(now, "sub-1", "alice")
		claims[tc.claim] = tc.at.Unix()
		_, err := v.Verify(ctx(t), authtest.Sign(p.SigningKey(), claims))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && reason(t, err) != tc.want:
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestTheKeySetIsFetchedOnceAndAgainForANewKey(t *testing.T) {
	t.Parallel()
	p, c := authtest.NewPool(t), newClock()
	v := verifier(p, c)
	if p.Fetches() != 0 {
		t.Fatal("New fetched the key set: it must make no network call at init")
	}
	for range 3 {
		if _, err := v.Verify(ctx(t), p.Token(c.Now(), "sub-1", "alice")); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.Fetches(); n != 1 {
		t.Fatalf("%d fetches for three tokens signed with one key, want 1", n)
	}

	// The pool rotates its key: a token signed with the new one makes the
	// verifier fetch the set again, once the last fetch is a minute old.
	c.Advance(time.Minute)
	p.Rotate(t, "key-2")
	if _, err := v.Verify(ctx(t), p.Token(c.Now(), "sub-1", "alice")); err != nil {
		t.Fatalf("a token signed with the rotated key: %v", err)
	}
	if n := p.Fetches(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

func TestAKeyDroppedFromTheSetIsRevoked(t *testing.T) {
	t.Parallel()
	p, c := authtest.NewPool(t), newClock()
	v := verifier(p, c)
	oldToken := p.Token(c.Now(), "sub-1", "alice")
	if _, err := v.Verify(ctx(t), oldToken); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	p.Rotate(t, "key-2")
	if _, err := v.Verify(ctx(t), p.Token(c.Now(), "sub-1", "alice")); err != nil {
		t.Fatal(err)
	}
	if got := reason(t, func() error { _, err := v.Verify(ctx(t), oldToken); return err }()); got != chat.AuthBadSignature {
		t.Fatalf("a token of the revoked key: %q, want %q", got, chat.AuthBadSignature)
	}
}

// Forged tokens naming made-up keys must not turn into requests to the
// issuer: an unknown key id fetches the set at most once a minute.
func TestUnknownKeyIDsFetchTheSetAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	p, c := authtest.NewPool(t), newClock()
	v := verifier(p, c)
	if _, err := v.Verify(ctx(t), p.Token(c.Now(), "sub-1", "alice")); err != nil {
		t.Fatal(err)
	}
	forger := authtest.NewKey(t, "made-up")
	for i := range 50 {
		forger.ID = fmt.Sprint("made-up-", i)
		forged := authtest.Sign(forger, p.Claims(c.Now(), "sub-1", "alice"))
		if _, err := v.Verify(ctx(t), forged); reason(t, err) != chat.AuthBadSignature {
			t.Fatalf("forged token %d: %v", i, err)
		}
		c.Advance(time.Second)
	}
	if n := p.Fetches(); n != 1 {
		t.Fatalf("%d fetches in 50 s of forged tokens, want 1 (the first token's)", n)
	}
	c.Advance(10 * time.Second)
	forged := authtest.Sign(forger, p.Claims(c.Now(), "sub-1", "alice"))
	_, _ = v.Verify(ctx(t), forged)
	if n := p.Fetches(); n != 2 {
		t.Fatalf("%d fetches a minute after the last, want 2", n)
	}
}

// When the keys cannot be fetched, whether a token is good cannot be told:
// that is an error (the authorizer fails, the handshake gets 500), not a
// refusal, and the next token tries again.
func TestAKeySetThatCannotBeFetchedIsAnErrorNotARefusal(t *testing.T) {
	t.Parallel()
	p, c := authtest.NewPool(t), newClock()
	v := verifier(p, c)
	p.SetDown(true)
	token := p.Token(c.Now(), "sub-1", "alice")
	_, err := v.Verify(ctx(t), token)
	var r *chat.Refusal
	if err == nil || errors.As(err, &r) {
		t.Fatalf("error %v, want one that is not a refusal", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Fatalf("the error carries the token: %v", err)
	}
	p.SetDown(false)
	if _, err := v.Verify(ctx(t), token); err != nil {
		t.Fatalf("after the key set is back: %v", err)
	}
}

func TestConcurrentFirstTokensShareOneFetch(t *testing.T) {
	t.Parallel()
	p, c := authtest.NewPool(t), newClock()
	v := verifier(p, c)
	token := p.Token(c.Now(), "sub-1", "alice")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := v.Verify(ctx(t), token); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := p.Fetches(); n != 1 {
		t.Fatalf("%d fetches for 20 concurrent tokens, want 1", n)
	}
}

func TestTheDefaultKeySetURLIsCognitos(t *testing.T) {
	t.Parallel()
	cfg := auth.Config{Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"}
	if got, want := cfg.JWKSURLOf(), "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	cfg.JWKSURL = "http://localhost:9229/eu-west-1_abc/.well-known/jwks.json"
	if got := cfg.JWKSURLOf(); got != cfg.JWKSURL {
		t.Fatalf("%s, want the override", got)
	}
}
