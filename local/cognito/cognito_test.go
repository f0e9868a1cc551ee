package cognito

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/lambda/auth"
)

func start(t *testing.T, o Options) *Server {
	t.Helper()
	testkit.Slow(t, "the local issuer, cognito-local")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// The test accounts sign in with their documented passwords, and the
// function's verifier (lambda/auth), given Issuer, ClientID and JWKSURL as
// the local stack gives them, accepts their ID tokens: signed by a key of
// the JWKS, issued by Issuer for ClientID, ID tokens.
func TestTestUsersGetIDTokensTheFunctionsVerifierAccepts(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v := auth.New(auth.Config{Issuer: s.Issuer(), ClientID: s.ClientID, JWKSURL: s.JWKSURL()})
	keys := fetchJWKS(ctx, t, s.JWKSURL())

	for _, u := range TestUsers {
		tok, err := s.Token(ctx, u.Username, u.Password)
		if err != nil {
			t.Fatal(err)
		}
		id, err := v.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("%s's token: %v", u.Username, err)
		}
		claims := verify(t, tok, keys)
		if id.Username != u.Username || id.AccountID == "" || id.AccountID != claims["sub"] {
			t.Errorf("%s's identity %+v, claims %v", u.Username, id, claims)
		}
		if claims["iss"] != s.Issuer() || claims["aud"] != s.ClientID || claims["token_use"] != "id" {
			t.Errorf("%s's claims: %v (issuer %s, client %s)", u.Username, claims, s.Issuer(), s.ClientID)
		}
		if exp, _ := claims["exp"].(float64); time.Unix(int64(exp), 0).Before(time.Now().Add(contract.IDTokenValidity / 2)) {
			t.Errorf("%s's token expires at %v", u.Username, exp)
		}
	}
	if !strings.HasPrefix(s.Issuer(), "http://127.0.0.1:") || !strings.HasPrefix(s.UserPoolID, Region+"_") {
		t.Errorf("issuer %s, pool %s", s.Issuer(), s.UserPoolID)
	}
}

func TestAWrongPasswordIsRefused(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Token(ctx, "alice", "not-her-Passw0rd"); err == nil {
		t.Fatal("signed in with a wrong password")
	}
	if _, err := s.Token(ctx, "mallory", "mallory-local-Passw0rd"); err == nil {
		t.Fatal("signed in as nobody")
	}
}

// A kept data directory brings back the same pool and client on another
// port, and the accounts still sign in; a token's issuer names the new port.
func TestAKeptDirKeepsThePoolAndClient(t *testing.T) {
	testkit.Slow(t, "the local issuer, cognito-local, twice")
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.CreateUser(ctx, "dave", "dave-local-Passw0rd"); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	second := start(t, Options{Dir: dir})
	if second.UserPoolID != first.UserPoolID || second.ClientID != first.ClientID {
		t.Fatalf("pool %s/%s, then %s/%s", first.UserPoolID, first.ClientID, second.UserPoolID, second.ClientID)
	}
	tok, err := second.Token(ctx, "dave", "dave-local-Passw0rd")
	if err != nil {
		t.Fatal(err)
	}
	if claims := verify(t, tok, fetchJWKS(ctx, t, second.JWKSURL())); claims["iss"] != second.Issuer() {
		t.Errorf("iss %v, want %s", claims["iss"], second.Issuer())
	}
}

func fetchJWKS(ctx context.Context, t *testing.T, url string) map[string]*rsa.PublicKey {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kid, Kty, N, E string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("JWKS at %s: %v", url, err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if k.Kty != "RSA" || err1 != nil || err2 != nil {
			t.Fatalf("JWKS key %+v", k)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys
}

// verify checks an RS256 JWT's signature against keys and returns its
// claims.
func verify(t *testing.T, tok string, keys map[string]*rsa.PublicKey) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	var header struct{ Alg, Kid string }
	decode(t, parts[0], &header)
	key := keys[header.Kid]
	if header.Alg != "RS256" || key == nil {
		t.Fatalf("header %+v, keys %v", header, keys)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var claims map[string]any
	decode(t, parts[1], &claims)
	return claims
}

func decode(t *testing.T, part string, v any) {
	t.Helper()
	data, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// A local ID token lives exactly as long as a deployed one: the deployed
// app client's validity (contract.IDTokenValidity, which infra/stack sets)
// is the local app client's, also for a pool kept in Dir from before.
func TestALocalIDTokenLivesAsLongAsADeployedOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, run := range []string{"new pool", "kept pool"} {
		s := start(t, Options{Dir: dir})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		tok, err := s.Token(ctx, TestUsers[0].Username, TestUsers[0].Password)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		claims := verify(t, tok, fetchJWKS(context.Background(), t, s.JWKSURL()))
		exp, _ := claims["exp"].(float64)
		iat, _ := claims["iat"].(float64)
		if got := time.Duration(exp-iat) * time.Second; got != contract.IDTokenValidity {
			t.Errorf("%s: a local ID token lives %v, a deployed one %v", run, got, contract.IDTokenValidity)
		}
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
	}
}
