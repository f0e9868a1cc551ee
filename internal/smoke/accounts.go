package smoke

// The smoke test's accounts in the stack's user pool: made for the run and
// deleted after it (or given), and signed in with the flow the page's app
// client allows.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// Cognito is the part of the Cognito user pool API the smoke test calls
// (*cognitoidentityprovider.Client).
type Cognito interface {
	AdminCreateUser(context.Context, *cip.AdminCreateUserInput, ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error)
	AdminSetUserPassword(context.Context, *cip.AdminSetUserPasswordInput, ...func(*cip.Options)) (*cip.AdminSetUserPasswordOutput, error)
	AdminDeleteUser(context.Context, *cip.AdminDeleteUserInput, ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
	DescribeUserPoolClient(context.Context, *cip.DescribeUserPoolClientInput, ...func(*cip.Options)) (*cip.DescribeUserPoolClientOutput, error)
	InitiateAuth(context.Context, *cip.InitiateAuthInput, ...func(*cip.Options)) (*cip.InitiateAuthOutput, error)
	RespondToAuthChallenge(context.Context, *cip.RespondToAuthChallengeInput, ...func(*cip.Options)) (*cip.RespondToAuthChallengeOutput, error)
}

var _ Cognito = (*cip.Client)(nil)

// Account is a user of the pool the smoke test signs in as.
type Account struct {
	Username, Password string
}

// temporaryAccounts are two new accounts' names and passwords: smoke-<run>-a
// and -b, with random passwords that meet the pool's policy (12 characters
// of four kinds: infra/stack/auth.go).
func temporaryAccounts(run string) ([]Account, error) {
	var out []Account
	for _, suffix := range []string{"a", "b"} {
		buf := make([]byte, 12)
		if _, err := rand.Read(buf); err != nil {
			return nil, err
		}
		out = append(out, Account{Username: "smoke-" + run + "-" + suffix, Password: "Sm0ke!" + hex.EncodeToString(buf)})
	}
	return out, nil
}

// createAccount makes a, with a permanent password and no message sent; its
// e-mail address (the pool requires one) is in the .invalid domain, where
// nothing can be delivered.
func createAccount(ctx context.Context, c Cognito, poolID string, a Account) error {
	_, err := c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId:    aws.String(poolID),
		Username:      aws.String(a.Username),
		MessageAction: types.MessageActionTypeSuppress,
		UserAttributes: []types.AttributeType{
			{Name: aws.String("email"), Value: aws.String(a.Username + "@smoke.invalid")},
			{Name: aws.String("email_verified"), Value: aws.String("true")},
		},
	})
	if err != nil {
		return fmt.Errorf("create account %s: %w", a.Username, err)
	}
	_, err = c.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: aws.String(poolID),
		Username:   aws.String(a.Username),
		Password:   aws.String(a.Password),
		Permanent:  true,
	})
	if err != nil {
		return fmt.Errorf("set the password of %s: %w", a.Username, err)
	}
	return nil
}

// deleteAccount removes a; one that is not there is not an error.
func deleteAccount(ctx context.Context, c Cognito, poolID, username string) error {
	_, err := c.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: aws.String(poolID), Username: aws.String(username)})
	var missing *types.UserNotFoundException
	if err != nil && !errors.As(err, &missing) {
		return fmt.Errorf("delete account %s: %w", username, err)
	}
	return nil
}

// signInFlow is the flow the app client allows that the smoke test speaks:
// USER_PASSWORD_AUTH when allowed (the local issuer's client), else
// USER_SRP_AUTH (the deployed one's, as the page).
// It also returns the client's secret ("" for a public client, as the
// page's): a client with one needs SECRET_HASH on every sign-in call.
func signInFlow(ctx context.Context, c Cognito, poolID, clientID string) (types.AuthFlowType, string, error) {
	out, err := c.DescribeUserPoolClient(ctx, &cip.DescribeUserPoolClientInput{UserPoolId: aws.String(poolID), ClientId: aws.String(clientID)})
	if err != nil {
		return "", "", fmt.Errorf("describe app client %s: %w", clientID, err)
	}
	if out.UserPoolClient == nil {
		return "", "", fmt.Errorf("describe app client %s: no client in the answer", clientID)
	}
	flows, secret := out.UserPoolClient.ExplicitAuthFlows, aws.ToString(out.UserPoolClient.ClientSecret)
	switch {
	case slices.Contains(flows, types.ExplicitAuthFlowsTypeAllowUserPasswordAuth):
		return types.AuthFlowTypeUserPasswordAuth, secret, nil
	case slices.Contains(flows, types.ExplicitAuthFlowsTypeAllowUserSrpAuth):
		return types.AuthFlowTypeUserSrpAuth, secret, nil
	}
	return "", "", fmt.Errorf("app client %s allows neither USER_PASSWORD_AUTH nor USER_SRP_AUTH (it allows %v)", clientID, flows)
}

// signIn signs a in with flow and returns its ID token; secret is the app
// client's ("" for none).
func signIn(ctx context.Context, c Cognito, poolID, clientID, secret string, flow types.AuthFlowType, a Account) (string, error) {
	var (
		res *types.AuthenticationResultType
		err error
	)
	if flow == types.AuthFlowTypeUserSrpAuth {
		res, err = signInSRP(ctx, c, poolID, clientID, secret, a)
	} else {
		var out *cip.InitiateAuthOutput
		out, err = c.InitiateAuth(ctx, &cip.InitiateAuthInput{
			AuthFlow:       flow,
			ClientId:       aws.String(clientID),
			AuthParameters: withSecretHash(map[string]string{"USERNAME": a.Username, "PASSWORD": a.Password}, secret, a.Username, clientID),
		})
		if err == nil {
			res = out.AuthenticationResult
			if res == nil {
				err = challengeError(out.ChallengeName)
			}
		}
	}
	if err != nil {
		return "", fmt.Errorf("sign %s in (%s): %w", a.Username, flow, err)
	}
	if aws.ToString(res.IdToken) == "" {
		return "", fmt.Errorf("sign %s in (%s): no ID token", a.Username, flow)
	}
	return aws.ToString(res.IdToken), nil
}

// withSecretHash adds SECRET_HASH, Base64(HMAC-SHA256(secret, username +
// client id)), to params when the app client has a secret.
func withSecretHash(params map[string]string, secret, username, clientID string) map[string]string {
	if secret != "" {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(username + clientID))
		params["SECRET_HASH"] = base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	return params
}

func signInSRP(ctx context.Context, c Cognito, poolID, clientID, secret string, a Account) (*types.AuthenticationResultType, error) {
	srp, err := newSRPClient(poolID)
	if err != nil {
		return nil, err
	}
	out, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{
		AuthFlow:       types.AuthFlowTypeUserSrpAuth,
		ClientId:       aws.String(clientID),
		AuthParameters: withSecretHash(map[string]string{"USERNAME": a.Username, "SRP_A": srp.SRPA()}, secret, a.Username, clientID),
	})
	if err != nil {
		return nil, err
	}
	if out.ChallengeName != types.ChallengeNameTypePasswordVerifier {
		return nil, fmt.Errorf("challenge %q, want PASSWORD_VERIFIER", out.ChallengeName)
	}
	p := out.ChallengeParameters
	userID := p["USER_ID_FOR_SRP"]
	ts, sig, err := srp.passwordClaim(userID, a.Password, p["SRP_B"], p["SALT"], p["SECRET_BLOCK"], time.Now())
	if err != nil {
		return nil, err
	}
	resp, err := c.RespondToAuthChallenge(ctx, &cip.RespondToAuthChallengeInput{
		ChallengeName: types.ChallengeNameTypePasswordVerifier,
		ClientId:      aws.String(clientID),
		Session:       out.Session,
		// The answer names the user as the pool does: its SECRET_HASH too.
		ChallengeResponses: withSecretHash(map[string]string{
			"USERNAME":                    userID,
			"PASSWORD_CLAIM_SECRET_BLOCK": p["SECRET_BLOCK"],
			"PASSWORD_CLAIM_SIGNATURE":    sig,
			"TIMESTAMP":                   ts,
		}, secret, userID, clientID),
	})
	if err != nil {
		return nil, err
	}
	if resp.AuthenticationResult == nil {
		return nil, challengeError(resp.ChallengeName)
	}
	return resp.AuthenticationResult, nil
}

// challengeError says what a challenge instead of tokens means for the
// account (a temporary one has neither a temporary password nor MFA; one
// named by SMOKE_ACCOUNTS may have either).
func challengeError(name types.ChallengeNameType) error {
	switch name {
	case types.ChallengeNameTypeNewPasswordRequired:
		return fmt.Errorf("challenge %s instead of tokens: the account still has its temporary password: sign in once on the page and choose one (or unset %s: the smoke test makes its own accounts)", name, EnvAccounts)
	case types.ChallengeNameTypeSmsMfa, types.ChallengeNameTypeSoftwareTokenMfa, types.ChallengeNameTypeMfaSetup,
		types.ChallengeNameTypeSelectMfaType, types.ChallengeNameTypeEmailOtp:
		return fmt.Errorf("challenge %s instead of tokens: the pool asks for a second factor (MFA), which the smoke test cannot give: use accounts without MFA", name)
	}
	return fmt.Errorf("challenge %s instead of tokens", name)
}
