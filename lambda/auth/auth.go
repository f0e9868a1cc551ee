// Package auth verifies the ID tokens people sign in with: the chat.Verifier
// the $connect authorizer calls. A token is accepted only when it is a
// compact JWS signed with RS256 by a key of the user pool's JWKS, issued by
// the pool (iss), for the app client (aud), an ID token (token_use "id"),
// with a subject and a username, and valid now within a small clock skew
// (exp, nbf, iat). Each refusal carries its reason (chat.Refusal); a token
// is never part of an error.
//
// The keys are fetched on the first token of a container (New makes no
// network call) and again when a token names a key the set does not have
// (the pool rotated its keys), at most once per Config.MinRefresh: a flood of
// forged tokens does not become a flood of requests to the issuer.
package auth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// Config configures a Verifier. The zero value of every optional field means
// its default.
type Config struct {
	// Issuer is the user pool's issuer URL
	// (https://cognito-idp.<region>.amazonaws.com/<poolId>); a token's iss
	// must equal it exactly. Required.
	Issuer string
	// ClientID is the app client's id; a token's aud must be it alone.
	// Required.
	ClientID string
	// JWKSURL is where the pool's public keys are. Default:
	// Issuer + "/.well-known/jwks.json" (Cognito's). Discovery is not used.
	JWKSURL string
	// ClockSkew is how far the issuer's clock and the function's may
	// disagree: a token is accepted until ClockSkew after its exp, and from
	// ClockSkew before its nbf and iat. Default 1 minute.
	ClockSkew time.Duration
	// MinRefresh is how often at most a token naming an unknown key fetches
	// the key set again. Default 1 minute.
	MinRefresh time.Duration
	// HTTPClient fetches the key set. Default: a client with a 3 s timeout.
	HTTPClient *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// JWKSURLOf returns the JWKS URL a Config uses: JWKSURL, or the issuer's.
func (c Config) JWKSURLOf() string {
	if c.JWKSURL != "" {
		return c.JWKSURL
	}
	return strings.TrimSuffix(c.Issuer, "/") + "/.well-known/jwks.json"
}

// Verifier checks ID tokens against one user pool and app client. It is
// safe for concurrent use; build one per container and keep it.
type Verifier struct {
	cfg    Config
	keys   *keySet
	parser *jwt.Parser
}

var _ chat.Verifier = (*Verifier)(nil)

// New returns a Verifier; it fetches nothing until the first token.
func New(cfg Config) *Verifier {
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = time.Minute
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = time.Minute
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 3 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg, keys: &keySet{url: cfg.JWKSURLOf(), client: cfg.HTTPClient,
		minRefresh: cfg.MinRefresh, now: cfg.Now, fetching: make(chan struct{}, 1)},
		// The claims are check's to judge, with the refusal reasons the
		// authorizer logs; golang-jwt reads the token and its signature.
		parser: jwt.NewParser(jwt.WithValidMethods([]string{rs256}), jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding())}
}

// maxTokenBytes bounds what is parsed at all; a Cognito ID token is 1–2 KB.
const maxTokenBytes = 16 << 10

// rs256 is the one algorithm accepted: Cognito signs with it, and a
// verifier that accepts others invites alg confusion (HS256 keyed with the
// public key, or none).
const rs256 = "RS256"

// Verify implements chat.Verifier. The signature is checked before any
// claim is believed: golang-jwt reads the compact JWS, refuses every
// algorithm but RS256 before a key is looked up, and checks the signature
// with the key the token's kid names; the claim rules, and the reason a
// refusal gives, are check's.
func (v *Verifier) Verify(ctx context.Context, token string) (chat.Identity, error) {
	if token == "" {
		return refuse(chat.AuthMissing)
	}
	if len(token) > maxTokenBytes {
		return refuse(chat.AuthMalformed)
	}
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		// An extension marked critical must be understood or the JWS
		// refused (RFC 7515 section 4.1.11); this verifier understands none.
		if _, crit := t.Header["crit"]; crit {
			return nil, errCritical
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errUnknownKey
		}
		return v.keys.key(ctx, kid)
	})
	switch {
	case err == nil:
		return v.check(c)
	case errors.Is(err, errCritical), errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(chat.AuthMalformed)
	case errors.Is(err, errUnknownKey), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse(chat.AuthBadSignature)
	case errors.Is(err, jwt.ErrTokenUnverifiable) && !errors.Is(err, errKeySet):
		return refuse(chat.AuthBadSignature) // an algorithm golang-jwt does not know
	}
	return chat.Identity{}, err // the key set could not be read: whether the token is good cannot be told
}

// errCritical: the token's header has crit.
var errCritical = errors.New("a critical header extension")

// claims are the ID token's claims the verifier reads: the registered ones
// (aud a string or an array, dates with a fraction: golang-jwt reads them as
// RFC 7519 says) and Cognito's.
type claims struct {
	jwt.RegisteredClaims
	TokenUse        string `json:"token_use"`
	CognitoUsername string `json:"cognito:username"`
	Username        string `json:"username"`
	// Groups are the user pool groups the account is in; the token's
	// signature vouches for them like for every other claim.
	Groups []string `json:"cognito:groups"`
}

// check applies the claim rules to a token whose signature is good: first
// whose token it is (issuer, client, kind), then whether it is valid now.
func (v *Verifier) check(c claims) (chat.Identity, error) {
	now, skew := v.cfg.Now(), v.cfg.ClockSkew
	switch {
	case c.Issuer != v.cfg.Issuer:
		return refuse(chat.AuthWrongIssuer)
	case len(c.Audience) != 1 || c.Audience[0] != v.cfg.ClientID:
		return refuse(chat.AuthWrongAudience)
	case c.TokenUse != "id":
		return refuse(chat.AuthWrongTokenUse)
	case c.ExpiresAt == nil:
		return refuse(chat.AuthMalformed)
	case !now.Before(c.ExpiresAt.Add(skew)):
		return refuse(chat.AuthExpired)
	case c.NotBefore != nil && now.Add(skew).Before(c.NotBefore.Time),
		c.IssuedAt != nil && now.Add(skew).Before(c.IssuedAt.Time):
		return refuse(chat.AuthNotYetValid)
	}
	id := chat.Identity{AccountID: c.Subject, Username: c.CognitoUsername, ExpiresAt: c.ExpiresAt.Time,
		Moderator: slices.Contains(c.Groups, contract.ModeratorsGroup)}
	if c.IssuedAt != nil {
		id.IssuedAt = c.IssuedAt.Time
	}
	if id.Username == "" {
		id.Username = c.Username
	}
	if id.AccountID == "" || id.Username == "" {
		return refuse(chat.AuthMalformed)
	}
	if len(id.AccountID) > chat.ClaimMaxBytes || len(id.Username) > chat.ClaimMaxBytes {
		return refuse(chat.AuthClaimTooLong)
	}
	return id, nil
}

func refuse(r chat.AuthReason) (chat.Identity, error) {
	return chat.Identity{}, &chat.Refusal{Reason: r}
}

// errUnknownKey: the key set, fetched recently, has no key of that id.
var errUnknownKey = errors.New("no key of that id in the key set")

// errKeySet: the key set could not be read (or waited for), so whether a
// token is good cannot be told; never a refusal.
var errKeySet = errors.New("the key set could not be read")

// maxJWKSBytes bounds the key set read; Cognito's is under 2 KB.
const maxJWKSBytes = 1 << 20

// keySet caches the pool's RS256 public keys by key id.
type keySet struct {
	url        string
	client     *http.Client
	minRefresh time.Duration
	now        func() time.Time
	fetching   chan struct{} // a slot: one fetch at a time, waited for with the caller's context

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time // of the last fetch that succeeded; zero before
}

// key returns the key of id kid, fetching the set when it lacks it and was
// not fetched within minRefresh. A fetch that fails is an error, not
// errUnknownKey: whether the token is good cannot be told.
func (ks *keySet) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if k, _ := ks.cached(kid); k != nil {
		return k, nil
	}
	select {
	case ks.fetching <- struct{}{}:
		defer func() { <-ks.fetching }()
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: wait for it: %w", errKeySet, ctx.Err())
	}
	k, fetchedAt := ks.cached(kid) // a fetch may have ended while this one waited
	if k != nil {
		return k, nil
	}
	if !fetchedAt.IsZero() && ks.now().Sub(fetchedAt) < ks.minRefresh {
		return nil, errUnknownKey
	}
	keys, err := ks.fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errKeySet, err)
	}
	ks.mu.Lock()
	ks.keys, ks.fetchedAt = keys, ks.now() // a key gone from the set is revoked
	ks.mu.Unlock()
	if k := keys[kid]; k != nil {
		return k, nil
	}
	return nil, errUnknownKey
}

func (ks *keySet) cached(kid string) (*rsa.PublicKey, time.Time) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.keys[kid], ks.fetchedAt
}

// fetch reads the JWKS, keeping the RSA signing keys usable with RS256 and
// skipping any other (as RFC 7517 says to). Its errors name the URL, never
// the response body.
func (ks *keySet) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch the key set: %w", err)
	}
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the key set: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the key set from %s: %s", ks.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, fmt.Errorf("read the key set from %s: %w", ks.url, err)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("the key set from %s is not a JWKS: %w", ks.url, err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, raw := range doc.Keys {
		if kid, pub := rsaSigningKey(raw); pub != nil {
			keys[kid] = pub
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the key set from %s has no RS256 signing key", ks.url)
	}
	return keys, nil
}

// rsaSigningKey reads one JWK of a key set (RFC 7518 section 6.3): an RSA
// public key with an id, of at least 2048 bits, for signatures with RS256
// when its use and alg say anything. Any other key is nil, to be skipped.
func rsaSigningKey(raw json.RawMessage) (string, *rsa.PublicKey) {
	var jwk struct {
		Kty string `json:"kty"`
		Kid string `json:"kid"`
		Use string `json:"use"`
		Alg string `json:"alg"`
		N   string `json:"n"`
		E   string `json:"e"`
		D   string `json:"d"`
	}
	if json.Unmarshal(raw, &jwk) != nil || jwk.Kty != "RSA" || jwk.Kid == "" || jwk.D != "" || // a private key is no key set's
		(jwk.Use != "" && jwk.Use != "sig") || (jwk.Alg != "" && jwk.Alg != rs256) {
		return "", nil
	}
	n, errN := base64.RawURLEncoding.DecodeString(jwk.N)
	e, errE := base64.RawURLEncoding.DecodeString(jwk.E)
	if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
		return "", nil
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
		return "", nil
	}
	return jwk.Kid, pub
}
