package smoke

// Cognito's Secure Remote Password sign-in (USER_SRP_AUTH), the only flow the
// deployed app client allows (infra/stack/auth.go): the password never
// leaves the client. It is the computation the page's Amplify library makes,
// on the group and the hashing Cognito uses (SRP-6a, 3072-bit group of RFC
// 5054, SHA-256, the "Caldera Derived Key" HKDF). cognito-local has no SRP,
// so against the local stack the smoke test signs in with USER_PASSWORD_AUTH,
// which its app client allows. srp_test.go checks this side against a server
// side written from the protocol and against a signature the page's library
// (aws-amplify) computed for the same inputs.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// srpN is the 3072-bit prime of RFC 5054 appendix A; the generator is 2.
const srpN = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1" +
	"29024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
	"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245" +
	"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
	"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D" +
	"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
	"83655D23DCA3AD961C62F356208552BB9ED529077096966D" +
	"670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
	"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9" +
	"DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
	"15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64" +
	"ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
	"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B" +
	"F12FFA06D98A0864D87602733EC86A64521F2B18177B200C" +
	"BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31" +
	"43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"

var (
	srpNInt, _ = new(big.Int).SetString(srpN, 16)
	srpG       = big.NewInt(2)
	// srpK is k = H(pad(N) | pad(g)).
	srpK = hexHashInt(padHex(srpNInt) + padHex(srpG))
)

// srpTimeFormat is the TIMESTAMP Cognito signs: the day of the month is
// not padded ("Tue Dec 4 09:05:01 UTC 2026").
const srpTimeFormat = "Mon Jan 2 15:04:05 UTC 2006"

// srpClient is one sign-in's secret a and public A.
type srpClient struct {
	poolName string // the part of the user pool id after '_'
	a, A     *big.Int
}

// newSRPClient draws a and computes A = g^a mod N (A mod N is never 0).
func newSRPClient(userPoolID string) (*srpClient, error) {
	_, poolName, ok := strings.Cut(userPoolID, "_")
	if !ok || poolName == "" {
		return nil, fmt.Errorf("user pool id %q has no '_': want <region>_<id>", userPoolID)
	}
	for {
		buf := make([]byte, 128)
		if _, err := rand.Read(buf); err != nil {
			return nil, err
		}
		a := new(big.Int).SetBytes(buf)
		A := new(big.Int).Exp(srpG, a, srpNInt)
		if A.Sign() != 0 {
			return &srpClient{poolName: poolName, a: a, A: A}, nil
		}
	}
}

// SRPA is the SRP_A parameter: A in hex, unpadded.
func (c *srpClient) SRPA() string { return c.A.Text(16) }

// passwordClaim answers the PASSWORD_VERIFIER challenge: the signature of
// the secret block at now, with the key both sides derive from the password.
// srpB and salt are hex, secretBlock base64, as the challenge gives them.
func (c *srpClient) passwordClaim(userID, password, srpB, salt, secretBlock string, now time.Time) (timestamp, signature string, err error) {
	B, ok := new(big.Int).SetString(srpB, 16)
	if !ok || new(big.Int).Mod(B, srpNInt).Sign() == 0 {
		return "", "", errors.New("the challenge's SRP_B is not a valid public value")
	}
	s, ok := new(big.Int).SetString(salt, 16)
	if !ok {
		return "", "", errors.New("the challenge's SALT is not hex")
	}
	block, err := base64.StdEncoding.DecodeString(secretBlock)
	if err != nil {
		return "", "", fmt.Errorf("the challenge's SECRET_BLOCK: %w", err)
	}
	u := hexHashInt(padHex(c.A) + padHex(B))
	if u.Sign() == 0 {
		return "", "", errors.New("the challenge's SRP_B gives u = 0")
	}
	x := srpX(c.poolName, userID, password, s)
	// S = (B - k*g^x) ^ (a + u*x) mod N
	gx := new(big.Int).Exp(srpG, x, srpNInt)
	base := new(big.Int).Sub(B, new(big.Int).Mul(srpK, gx))
	base.Mod(base, srpNInt)
	exp := new(big.Int).Add(c.a, new(big.Int).Mul(u, x))
	S := new(big.Int).Exp(base, exp, srpNInt)
	key := srpKey(S, u)

	timestamp = now.UTC().Format(srpTimeFormat)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(c.poolName))
	mac.Write([]byte(userID))
	mac.Write(block)
	mac.Write([]byte(timestamp))
	return timestamp, base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// srpX is x = H(pad(salt) | H(poolName | userID | ":" | password)).
func srpX(poolName, userID, password string, salt *big.Int) *big.Int {
	inner := sha256.Sum256([]byte(poolName + userID + ":" + password))
	return hexHashInt(padHex(salt) + hex.EncodeToString(inner[:]))
}

// srpKey is the 16-byte key HKDF-SHA256 derives from S with salt u and the
// info "Caldera Derived Key".
func srpKey(S, u *big.Int) []byte {
	ikm, _ := hex.DecodeString(padHex(S))
	salt, _ := hex.DecodeString(padHex(u))
	extract := hmac.New(sha256.New, salt)
	extract.Write(ikm)
	expand := hmac.New(sha256.New, extract.Sum(nil))
	expand.Write([]byte("Caldera Derived Key"))
	expand.Write([]byte{1})
	return expand.Sum(nil)[:16]
}

// padHex is n in hex as Cognito hashes it: an even number of digits, with
// "00" in front when the first digit is 8 or more (so it reads as positive).
func padHex(n *big.Int) string {
	h := n.Text(16)
	if len(h)%2 == 1 {
		h = "0" + h
	} else if strings.IndexByte("89abcdef", h[0]) >= 0 {
		h = "00" + h
	}
	return h
}

// hexHashInt is SHA-256 of the bytes the hex string h spells, as a number.
func hexHashInt(h string) *big.Int {
	b, _ := hex.DecodeString(h)
	sum := sha256.Sum256(b)
	return new(big.Int).SetBytes(sum[:])
}
