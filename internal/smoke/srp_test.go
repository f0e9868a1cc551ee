package smoke

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// srpServer is Cognito's side of USER_SRP_AUTH for one account, written
// from the protocol (the verifier v = g^x is what the pool stores): a
// client that computes the key differently signs differently.
type srpServer struct {
	Cognito                    // only the two sign-in calls are answered
	poolID, username, password string
	clientID                   string

	salt, b, B, A *big.Int
	block         []byte
	signedIn      bool
}

func (s *srpServer) x() *big.Int {
	_, pool, _ := strings.Cut(s.poolID, "_")
	inner := sha256.Sum256([]byte(pool + s.username + ":" + s.password))
	saltHex := s.salt.Text(16)
	if len(saltHex)%2 == 1 {
		saltHex = "0" + saltHex
	} else if saltHex[0] >= '8' {
		saltHex = "00" + saltHex
	}
	raw, _ := hex.DecodeString(saltHex + hex.EncodeToString(inner[:]))
	sum := sha256.Sum256(raw)
	return new(big.Int).SetBytes(sum[:])
}

func (s *srpServer) InitiateAuth(_ context.Context, in *cip.InitiateAuthInput, _ ...func(*cip.Options)) (*cip.InitiateAuthOutput, error) {
	if in.AuthFlow != types.AuthFlowTypeUserSrpAuth || aws.ToString(in.ClientId) != s.clientID || in.AuthParameters["USERNAME"] != s.username {
		return nil, errors.New("InitiateAuth: unexpected input")
	}
	A, ok := new(big.Int).SetString(in.AuthParameters["SRP_A"], 16)
	if !ok {
		return nil, errors.New("InitiateAuth: SRP_A is not hex")
	}
	s.A = A
	s.salt, _ = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	s.b, _ = rand.Int(rand.Reader, srpNInt)
	v := new(big.Int).Exp(srpG, s.x(), srpNInt)
	s.B = new(big.Int).Add(new(big.Int).Mul(srpK, v), new(big.Int).Exp(srpG, s.b, srpNInt))
	s.B.Mod(s.B, srpNInt)
	s.block = make([]byte, 40)
	_, _ = rand.Read(s.block)
	return &cip.InitiateAuthOutput{
		ChallengeName: types.ChallengeNameTypePasswordVerifier,
		Session:       aws.String("session-1"),
		ChallengeParameters: map[string]string{
			"USER_ID_FOR_SRP": s.username, "SRP_B": s.B.Text(16), "SALT": s.salt.Text(16),
			"SECRET_BLOCK": base64.StdEncoding.EncodeToString(s.block),
		},
	}, nil
}

func (s *srpServer) RespondToAuthChallenge(_ context.Context, in *cip.RespondToAuthChallengeInput, _ ...func(*cip.Options)) (*cip.RespondToAuthChallengeOutput, error) {
	r := in.ChallengeResponses
	if in.ChallengeName != types.ChallengeNameTypePasswordVerifier || aws.ToString(in.Session) != "session-1" || r["USERNAME"] != s.username ||
		r["PASSWORD_CLAIM_SECRET_BLOCK"] != base64.StdEncoding.EncodeToString(s.block) {
		return nil, errors.New("RespondToAuthChallenge: unexpected input")
	}
	ts, err := time.Parse(srpTimeFormat, r["TIMESTAMP"])
	if err != nil || time.Since(ts).Abs() > time.Minute {
		return nil, errors.New("RespondToAuthChallenge: bad TIMESTAMP " + r["TIMESTAMP"])
	}
	// S = (A * v^u)^b mod N: the same number the client reaches from a and x.
	u := hexHashInt(padHex(s.A) + padHex(s.B))
	v := new(big.Int).Exp(srpG, s.x(), srpNInt)
	S := new(big.Int).Exp(new(big.Int).Mul(s.A, new(big.Int).Exp(v, u, srpNInt)), s.b, srpNInt)
	// The key: HKDF-SHA256, salt u, info "Caldera Derived Key", 16 bytes.
	prk := hmac.New(sha256.New, mustHex(padHex(u)))
	prk.Write(mustHex(padHex(S)))
	okm := hmac.New(sha256.New, prk.Sum(nil))
	okm.Write(append([]byte("Caldera Derived Key"), 1))
	mac := hmac.New(sha256.New, okm.Sum(nil)[:16])
	_, pool, _ := strings.Cut(s.poolID, "_")
	mac.Write([]byte(pool + s.username))
	mac.Write(s.block)
	mac.Write([]byte(r["TIMESTAMP"]))
	if r["PASSWORD_CLAIM_SIGNATURE"] != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		return nil, &types.NotAuthorizedException{Message: aws.String("Incorrect username or password.")}
	}
	s.signedIn = true
	return &cip.RespondToAuthChallengeOutput{AuthenticationResult: &types.AuthenticationResultType{IdToken: aws.String("id-token")}}, nil
}

// TestSmokeSignsInWithSRPAsTheDeployedClientAllows: against a server that
// holds only the password's verifier, the right password signs in and a
// wrong one is refused.
func TestSmokeSignsInWithSRPAsTheDeployedClientAllows(t *testing.T) {
	for range 3 { // a, b and the salt are random: padding cases vary
		srv := &srpServer{poolID: "eu-west-1_AbC123xyz", username: "smoke-1-a", password: "Sm0ke!right", clientID: "client1"}
		tok, err := signIn(t.Context(), srv, srv.poolID, srv.clientID, types.AuthFlowTypeUserSrpAuth, Account{"smoke-1-a", "Sm0ke!right"})
		if err != nil || tok != "id-token" || !srv.signedIn {
			t.Fatalf("the right password: %q %v", tok, err)
		}
		_, err = signIn(t.Context(), srv, srv.poolID, srv.clientID, types.AuthFlowTypeUserSrpAuth, Account{"smoke-1-a", "Sm0ke!wrong"})
		var refused *types.NotAuthorizedException
		if !errors.As(err, &refused) {
			t.Fatalf("a wrong password: %v, want NotAuthorizedException", err)
		}
	}
}

func TestSRPHelpers(t *testing.T) {
	if got := padHex(big.NewInt(0x7f)); got != "7f" {
		t.Errorf("padHex(0x7f) = %s", got)
	}
	if got := padHex(big.NewInt(0x80)); got != "0080" {
		t.Errorf("padHex(0x80) = %s, want 0080 (positive)", got)
	}
	if got := padHex(big.NewInt(0xabc)); got != "0abc" {
		t.Errorf("padHex(0xabc) = %s", got)
	}
	ts := time.Date(2026, 12, 4, 9, 5, 1, 0, time.UTC).Format(srpTimeFormat)
	if ts != "Fri Dec 4 09:05:01 UTC 2026" {
		t.Errorf("timestamp %q: Cognito's has an unpadded day", ts)
	}
	if _, err := newSRPClient("nounderscore"); err == nil {
		t.Error("a pool id without '_' was accepted")
	}
	c, _ := newSRPClient("eu-west-1_x")
	if _, _, err := c.passwordClaim("u", "p", "0", "01", "AA==", time.Now()); err == nil {
		t.Error("B = 0 was accepted")
	}
}

func mustHex(h string) []byte {
	b, err := hex.DecodeString(h)
	if err != nil {
		panic(err)
	}
	return b
}
