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
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

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
	cfg  Config
	keys *keySet
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
		minRefresh: cfg.MinRefresh, now: cfg.Now, fetching: make(chan struct{}, 1)}}
}

// maxTokenBytes bounds what is parsed at all; a Cognito ID token is 1–2 KB.
const maxTokenBytes = 16 << 10

// rs256 is the one algorithm accepted: Cognito signs with it, and a
// verifier that accepts others invites alg confusion (HS256 keyed with the
// public key, or none).
var rs256 = []jose.SignatureAlgorithm{jose.RS256}

// Verify implements chat.Verifier. The signature is checked before any
// claim is believed.
func (v *Verifier) Verify(ctx context.Context, token string) (chat.Identity, error) {
	if token == "" {
		return refuse(chat.AuthMissing)
	}
	if len(token) > maxTokenBytes {
		return refuse(chat.AuthMalformed)
	}
	jws, err := jose.ParseSignedCompact(token, rs256)
	if err != nil {
		if alg := headerAlg(token); alg != "" && alg != string(jose.RS256) {
			return refuse(chat.AuthBadSignature)
		}
		return refuse(chat.AuthMalformed)
	}
	kid := jws.Signatures[0].Header.KeyID
	if kid == "" {
		return refuse(chat.AuthBadSignature)
	}
	key, err := v.keys.key(ctx, kid)
	if errors.Is(err, errUnknownKey) {
		return refuse(chat.AuthBadSignature)
	}
	if err != nil {
		return chat.Identity{}, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return refuse(chat.AuthBadSignature)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return refuse(chat.AuthMalformed)
	}
	return v.check(c)
}

// claims are the ID token's claims the verifier reads.
type claims struct {
	Issuer          string           `json:"iss"`
	Subject         string           `json:"sub"`
	Audience        jwt.Audience     `json:"aud"` // a string or an array
	Expiry          *jwt.NumericDate `json:"exp"`
	NotBefore       *jwt.NumericDate `json:"nbf"`
	IssuedAt        *jwt.NumericDate `json:"iat"`
	TokenUse        string           `json:"token_use"`
	CognitoUsername string           `json:"cognito:username"`
	Username        string           `json:"username"`
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
	case c.Expiry == nil:
		return refuse(chat.AuthMalformed)
	case !now.Before(c.Expiry.Time().Add(skew)):
		return refuse(chat.AuthExpired)
	case c.NotBefore != nil && now.Add(skew).Before(c.NotBefore.Time()),
		c.IssuedAt != nil && now.Add(skew).Before(c.IssuedAt.Time()):
		return refuse(chat.AuthNotYetValid)
	}
	id := chat.Identity{AccountID: c.Subject, Username: c.CognitoUsername, ExpiresAt: c.Expiry.Time(),
		Moderator: slices.Contains(c.Groups, contract.ModeratorsGroup)}
	if c.IssuedAt != nil {
		id.IssuedAt = c.IssuedAt.Time()
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

// headerAlg returns the alg a compact JWS's header names, "" if the header
// cannot be read: it tells a token signed otherwise than RS256 (or not at
// all) from one that is not a JWS.
func headerAlg(token string) string {
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Alg
}

// errUnknownKey: the key set, fetched recently, has no key of that id.
var errUnknownKey = errors.New("no key of that id in the key set")

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
		return nil, fmt.Errorf("wait for the key set: %w", ctx.Err())
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
		return nil, err
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
		var jwk jose.JSONWebKey
		if json.Unmarshal(raw, &jwk) != nil {
			continue
		}
		pub, ok := jwk.Key.(*rsa.PublicKey)
		if !ok || jwk.KeyID == "" || pub.N.BitLen() < 2048 ||
			(jwk.Use != "" && jwk.Use != "sig") || (jwk.Algorithm != "" && jwk.Algorithm != string(jose.RS256)) {
			continue
		}
		keys[jwk.KeyID] = pub
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the key set from %s has no RS256 signing key", ks.url)
	}
	return keys, nil
}
