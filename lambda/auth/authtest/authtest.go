// Package authtest is a user pool for tests: RSA keys minted in the test, a
// JWKS served over HTTP like Cognito's, and ID tokens signed with them,
// well formed or spoiled in one chosen way.
package authtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ClientID is the app client the pool's tokens are for.
const ClientID = "test-client"

// Key is a signing key and the id the key set gives it.
type Key struct {
	ID      string
	Private *rsa.PrivateKey
}

// NewKey mints a 2048-bit RSA key.
func NewKey(t testing.TB, id string) Key {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return Key{ID: id, Private: k}
}

// Pool is a user pool: an issuer whose key set is served at JWKSURL.
type Pool struct {
	// Issuer is the pool's issuer URL (the server's URL + "/pool");
	// JWKSURL is Cognito's path under it.
	Issuer, JWKSURL string

	mu      sync.Mutex
	signing Key
	served  []Key
	fetches atomic.Int64
	down    atomic.Bool
}

// NewPool starts a pool signing with one fresh key; it stops when the test
// ends.
func NewPool(t testing.TB) *Pool {
	t.Helper()
	p := &Pool{signing: NewKey(t, "key-1")}
	p.served = []Key{p.signing}
	srv := httptest.NewServer(http.HandlerFunc(p.serveJWKS))
	t.Cleanup(srv.Close)
	p.Issuer = srv.URL + "/pool"
	p.JWKSURL = p.Issuer + "/.well-known/jwks.json"
	return p
}

func (p *Pool) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/pool/.well-known/jwks.json" {
		http.NotFound(w, r)
		return
	}
	p.fetches.Add(1)
	if p.down.Load() {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	p.mu.Lock()
	keys := make([]map[string]string, 0, len(p.served))
	for _, k := range p.served {
		keys = append(keys, JWK(k))
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
}

// JWK is a key's public half as a JWKS lists it.
func JWK(k Key) map[string]string {
	pub := k.Private.PublicKey
	return map[string]string{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": k.ID,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

// Rotate starts signing with a new key, served alone from now on (the old
// one revoked).
func (p *Pool) Rotate(t testing.TB, id string) {
	k := NewKey(t, id)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signing, p.served = k, []Key{k}
}

// SigningKey is the key the pool signs with now.
func (p *Pool) SigningKey() Key {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signing
}

// Fetches counts the key set's requests so far.
func (p *Pool) Fetches() int64 { return p.fetches.Load() }

// SetDown makes the key set answer 503.
func (p *Pool) SetDown(down bool) { p.down.Store(down) }

// Claims are a valid ID token's claims at now, as Cognito writes them, for
// the account sub called username.
func (p *Pool) Claims(now time.Time, sub, username string) map[string]any {
	return map[string]any{
		"sub": sub, "cognito:username": username, "aud": ClientID, "iss": p.Issuer,
		"token_use": "id", "auth_time": now.Unix(), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"email_verified": true, "event_id": "e", "origin_jti": "j", "jti": "j",
	}
}

// Token is a valid ID token at now.
func (p *Pool) Token(now time.Time, sub, username string) string {
	return Sign(p.SigningKey(), p.Claims(now, sub, username))
}

// Sign signs claims with k, RS256, naming k.ID in the header.
func Sign(k Key, claims map[string]any) string {
	return SignHeader(k, map[string]any{"alg": "RS256", "kid": k.ID, "typ": "JWT"}, claims)
}

// SignHeader signs claims under a header of the caller's (RS256 whatever it
// says).
func SignHeader(k Key, header, claims map[string]any) string {
	input := Segment(header) + "." + Segment(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.Private, crypto.SHA256, sum[:])
	if err != nil {
		panic(fmt.Sprintf("sign: %v", err))
	}
	return input + "." + b64(sig)
}

// SignAlg signs claims with k by the algorithm alg names (RS256, RS512 or
// PS256), under a header naming it: a token whose signature is good but
// whose algorithm is not the one a verifier accepts.
func SignAlg(k Key, alg string, claims map[string]any) string {
	input := Segment(map[string]any{"alg": alg, "kid": k.ID, "typ": "JWT"}) + "." + Segment(claims)
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		sum := sha256.Sum256([]byte(input))
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.Private, crypto.SHA256, sum[:])
	case "RS512":
		sum := sha512.Sum512([]byte(input))
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.Private, crypto.SHA512, sum[:])
	case "PS256":
		sum := sha256.Sum256([]byte(input))
		sig, err = rsa.SignPSS(rand.Reader, k.Private, crypto.SHA256, sum[:], nil)
	default:
		panic("SignAlg: no signer for " + alg)
	}
	if err != nil {
		panic(fmt.Sprintf("sign: %v", err))
	}
	return input + "." + b64(sig)
}

// Segment is v as a JWS segment: JSON, base64url without padding.
func Segment(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b64(b)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
