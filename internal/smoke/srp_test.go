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
	// userID is the pool's own name of the user (USER_ID_FOR_SRP), which
	// differs from the name typed when one signs in with an alias (an
	// e-mail address); default username.
	userID string
	// secret is the app client's secret: every call then carries
	// SECRET_HASH of the username it names.
	secret string
	// next is the challenge the pool asks after the password, if any.
	next types.ChallengeNameType

	salt, b, B, A *big.Int
	block         []byte
	signedIn      bool
}

func (s *srpServer) x() *big.Int {
	_, pool, _ := strings.Cut(s.poolID, "_")
	inner := sha256.Sum256([]byte(pool + s.id() + ":" + s.password))
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

func (s *srpServer) id() string {
	if s.userID != "" {
		return s.userID
	}
	return s.username
}

// secretHashOK: without a client secret no SECRET_HASH is needed; with one,
// it is Base64(HMAC-SHA256(secret, username + client id)).
func (s *srpServer) secretHashOK(params map[string]string, username string) bool {
	if s.secret == "" {
		return true
	}
	mac := hmac.New(sha256.New, []byte(s.secret))
	mac.Write([]byte(username + s.clientID))
	return params["SECRET_HASH"] == base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (s *srpServer) InitiateAuth(_ context.Context, in *cip.InitiateAuthInput, _ ...func(*cip.Options)) (*cip.InitiateAuthOutput, error) {
	if in.AuthFlow != types.AuthFlowTypeUserSrpAuth || aws.ToString(in.ClientId) != s.clientID || in.AuthParameters["USERNAME"] != s.username {
		return nil, errors.New("InitiateAuth: unexpected input")
	}
	if !s.secretHashOK(in.AuthParameters, s.username) {
		return nil, &types.NotAuthorizedException{Message: aws.String("Client " + s.clientID + " is configured with secret but SECRET_HASH was not received")}
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
			"USER_ID_FOR_SRP": s.id(), "SRP_B": s.B.Text(16), "SALT": s.salt.Text(16),
			"SECRET_BLOCK": base64.StdEncoding.EncodeToString(s.block),
		},
	}, nil
}

func (s *srpServer) RespondToAuthChallenge(_ context.Context, in *cip.RespondToAuthChallengeInput, _ ...func(*cip.Options)) (*cip.RespondToAuthChallengeOutput, error) {
	r := in.ChallengeResponses
	if in.ChallengeName != types.ChallengeNameTypePasswordVerifier || aws.ToString(in.Session) != "session-1" || r["USERNAME"] != s.id() ||
		r["PASSWORD_CLAIM_SECRET_BLOCK"] != base64.StdEncoding.EncodeToString(s.block) {
		return nil, errors.New("RespondToAuthChallenge: unexpected input")
	}
	if !s.secretHashOK(r, s.id()) {
		return nil, &types.NotAuthorizedException{Message: aws.String("Unable to verify secret hash for client " + s.clientID)}
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
	mac.Write([]byte(pool + s.id()))
	mac.Write(s.block)
	mac.Write([]byte(r["TIMESTAMP"]))
	if r["PASSWORD_CLAIM_SIGNATURE"] != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		return nil, &types.NotAuthorizedException{Message: aws.String("Incorrect username or password.")}
	}
	if s.next != "" {
		return &cip.RespondToAuthChallengeOutput{ChallengeName: s.next, Session: aws.String("session-2")}, nil
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
		tok, err := signIn(t.Context(), srv, srv.poolID, srv.clientID, "", types.AuthFlowTypeUserSrpAuth, Account{"smoke-1-a", "Sm0ke!right"})
		if err != nil || tok != "id-token" || !srv.signedIn {
			t.Fatalf("the right password: %q %v", tok, err)
		}
		_, err = signIn(t.Context(), srv, srv.poolID, srv.clientID, "", types.AuthFlowTypeUserSrpAuth, Account{"smoke-1-a", "Sm0ke!wrong"})
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

// TestSmokeSignsWithTheSameKeyAsThePage: the signature for a fixed secret a,
// server value B, salt and secret block is the one the page's library
// computes (aws-amplify 6.22.1, @aws-amplify/auth's AuthenticationHelper and
// getSignatureString, run once under Node.js to make this vector).
func TestSmokeSignsWithTheSameKeyAsThePage(t *testing.T) {
	const (
		a = "651a665431db6e0e1677675b905ff62c73dab1b40e90bc106a8a0d7be511c43b006891b936c8a1d20a908cd4ad1c4d29" +
			"0585fc553d4dd665850021e5216b3e7663d213c1a944259379bfdece6b539f8dbceccc77b3e61ee2725161a7c00f37b8" +
			"50bf7a322be2b8f3531b579a7306fcb39127b64f6991ca404e0201851037e770"
		B = "93cf1db1e314cccd336a0b015ad564e776ba6ede76f83626a89e44c6c3bba1afd7e2dec51f0f59c72080219f261bdeb0" +
			"cc81cbd0e39898e764a95034cfde5892ac80d742e6b9d5374d7242742e860e73bc0e2d9ec7b2bf96c99f7aef6414c9fb" +
			"1fa4bb2146aa23ec63446024eda564b5b4e052464cdb2abda83bcbcf79ad1d1b839d03de76be67d14b3d123528c597f3" +
			"a5e39f646bc9511ba710c9a8090d62bc6e0c6f23a1b4c309c3e45c2e013b0eaf06282fb87e234423bc7eb21e77092a5c" +
			"99fe3e9a6dddc1a91b2cf2918e682f87c3adb9ff2236c46771aae44f65a71b4e350cfb19abceff80f2287ad8bea86a6d" +
			"13fc24691b8d90ed1bd55cb45376207ba6b5e49157a06b78a20e9469be75a93b9bcc92613883c64362ee1b990d01513f" +
			"08f0c410fdb839451bdfc63bcf04fe1d3bf0d30b20a9daba765d2f79267142bcf4b88d7a78552b90153760cfe6f8096e" +
			"96e571da5192f0be2b0e9cfa181b1bda83a0621564f70f60830caf7a201b67f7edce1615846342a1d7cf0ba0cebbd6d1"
		wantA = "ea6245b53c1802a50f6195252a35892b0ca7bcda7aae3387ea580c720e23f1dba1035015be04b1221319703b329d0411" +
			"f81335a4de901d397408edb8989839658623b53f11d5540fdee265db12c80ef654e244bb3d4c58621d70e49822a613b5" +
			"db1129220b0a9acd5f2e9674d3173b34c5df09a0d4e69a3f3a11e7aa2f064f6ffdde4d8581a90684a45f69fd2fd9bde2" +
			"d219bd494fccb39bd283b74b2dcee9aa8d8dd71ceeef353d764ac8646de9fc0d264c4a2357500321174937b619f46cf3" +
			"3bdd6daa0616dcc7d93cc7744d928be5c01f838f45cdf4fdbe46b3b926519fde01bc4b87608eab43b9e01b45b8e99dc5" +
			"faa9c7c262ddb540f9c9f3bd6001842942e45529c5d2ca5a58e243f4f4b9f41f97b167530ee4bdc4509155b9f806dc3e" +
			"058cb9e17ba1256917c244719d5ea55a0683253ed885a8c25f33b6be92847129d51632cc4399b36b6b22cc17c870fd4d" +
			"ffb67352af5899c52cde2cb95e914440d87e1a460a01d2a27a1a88dec40b83a1462f1da5af2f71980db9bf737ec08b59"
		salt    = "e557148653bd70135f209739c5eff22c"
		block   = "0+5MMtF2QValiIGNk4vLh237h19SnuhEIz5/W8+nJngKnBQ/OxvAy/Ctg2BFVdyS"
		wantSig = "7auHzm0tWuPttORIQ7HksDWliUWt8F6+nd6R8CM8kys="
	)
	ai, _ := new(big.Int).SetString(a, 16)
	c := &srpClient{poolName: "AbC123xyz", a: ai, A: new(big.Int).Exp(srpG, ai, srpNInt)}
	if c.SRPA() != wantA {
		t.Fatalf("SRP_A differs from the page's")
	}
	ts, sig, err := c.passwordClaim("smoke-1-a", "Sm0ke!right", B, salt, block, time.Date(2026, 12, 4, 9, 5, 1, 0, time.UTC))
	if err != nil || ts != "Fri Dec 4 09:05:01 UTC 2026" || sig != wantSig {
		t.Fatalf("passwordClaim = %q %q %v, want the page's signature %q", ts, sig, err, wantSig)
	}
}

// TestSmokeSignsInWithSRPWhenThePoolNamesTheUserOtherwise: the pool's own
// name of the user (USER_ID_FOR_SRP, a UUID when one signs in with an
// e-mail alias) goes into the password's hash, the signature and the
// answer's USERNAME, as the page's library does.
func TestSmokeSignsInWithSRPWhenThePoolNamesTheUserOtherwise(t *testing.T) {
	srv := &srpServer{poolID: "eu-west-1_AbC123xyz", username: "alice@example.org", userID: "3f2c1e0a-uuid", password: "Sm0ke!right", clientID: "client1"}
	if tok, err := signIn(t.Context(), srv, srv.poolID, srv.clientID, "", types.AuthFlowTypeUserSrpAuth, Account{"alice@example.org", "Sm0ke!right"}); err != nil || tok != "id-token" {
		t.Fatalf("%q %v", tok, err)
	}
}

// TestSmokeSignsInWithAnAppClientThatHasASecret: an app client with a
// secret (a server-side one an operator may point the smoke test at)
// needs SECRET_HASH on every call, of the name each call carries; before,
// Cognito refused: "configured with secret but SECRET_HASH was not
// received".
func TestSmokeSignsInWithAnAppClientThatHasASecret(t *testing.T) {
	srv := &srpServer{poolID: "eu-west-1_AbC123xyz", username: "alice@example.org", userID: "3f2c1e0a-uuid", password: "Sm0ke!right", clientID: "client1", secret: "cl13nt-s3cret"}
	flow, secret, err := signInFlow(t.Context(), &describedClient{Cognito: srv, secret: srv.secret}, srv.poolID, srv.clientID)
	if err != nil || flow != types.AuthFlowTypeUserSrpAuth {
		t.Fatalf("flow %q, %v", flow, err)
	}
	if tok, err := signIn(t.Context(), srv, srv.poolID, srv.clientID, secret, flow, Account{"alice@example.org", "Sm0ke!right"}); err != nil || tok != "id-token" {
		t.Fatalf("%q %v", tok, err)
	}
}

// describedClient describes an app client that allows SRP, with a secret.
type describedClient struct {
	Cognito
	secret string
}

func (d *describedClient) DescribeUserPoolClient(context.Context, *cip.DescribeUserPoolClientInput, ...func(*cip.Options)) (*cip.DescribeUserPoolClientOutput, error) {
	return &cip.DescribeUserPoolClientOutput{UserPoolClient: &types.UserPoolClientType{
		ExplicitAuthFlows: []types.ExplicitAuthFlowsType{types.ExplicitAuthFlowsTypeAllowUserSrpAuth},
		ClientSecret:      aws.String(d.secret),
	}}, nil
}

// TestSmokeSaysWhatAConfiguredAccountStillNeeds: SMOKE_ACCOUNTS naming an
// invited account that never set its own password gets Cognito's
// NEW_PASSWORD_REQUIRED: the operator is told to sign in once on the page,
// not that the account must not have MFA.
func TestSmokeSaysWhatAConfiguredAccountStillNeeds(t *testing.T) {
	for _, tc := range []struct {
		next       types.ChallengeNameType
		says, not_ string
	}{
		{types.ChallengeNameTypeNewPasswordRequired, "still has its temporary password: sign in once on the page", "MFA"},
		{types.ChallengeNameTypeSoftwareTokenMfa, "asks for a second factor (MFA)", "temporary password"},
	} {
		srv := &srpServer{poolID: "eu-west-1_AbC123xyz", username: "alice", password: "Sm0ke!right", clientID: "client1", next: tc.next}
		_, err := signIn(t.Context(), srv, srv.poolID, srv.clientID, "", types.AuthFlowTypeUserSrpAuth, Account{"alice", "Sm0ke!right"})
		if err == nil || !strings.Contains(err.Error(), string(tc.next)) || !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), tc.not_) {
			t.Errorf("%s: %v, want it to say %q and not %q", tc.next, err, tc.says, tc.not_)
		}
	}
}
