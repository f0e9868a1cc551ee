// Auth: with auth "cognito", the environment's Cognito user pool, the page's
// app client, and the $connect authorizer that runs the one function to
// verify the ID token the page puts on the WebSocket URL (docs/auth.md).
// With auth "none" there is none of it.
package stack

import (
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/contract"
)

const (
	// passwordMinLength: twelve characters of four kinds (cdk-nag's
	// AwsSolutions-COG1 asks for eight with upper case, digits and symbols).
	passwordMinLength = 12
	// idTokenMinutes and refreshTokenDays are the app client's token
	// lifetimes, the local issuer's too (contract.IDTokenValidity).
	idTokenMinutes   = int(contract.IDTokenValidity / time.Minute)
	refreshTokenDays = int(contract.RefreshTokenValidity / (24 * time.Hour))
)

// Auth is the user pool, its app client and the $connect authorizer.
type Auth struct {
	UserPool awscognito.UserPool
	Client   awscognito.UserPoolClient
	// Issuer is https://cognito-idp.<region>.<URL suffix>/<pool id>: the
	// ID tokens' iss, and where their keys are (<issuer>/.well-known/jwks.json).
	Issuer *string
	// Region is the user pool's, the stack's region.
	Region *string
	// Authorizer is bound to $connect by newAPI; it runs fn.
	Authorizer awsapigatewayv2authorizers.WebSocketLambdaAuthorizer
	// SelfSignUp is the environment's selfSignUp: the page offers sign-up.
	SelfSignUp bool
	// Settings is the SSM parameter that tells the function the issuer
	// and the app client (contract.AuthSettings), named
	// contract.AuthParameterName: the pool's Pre sign-up trigger is the
	// function, so the function's environment cannot refer to the pool.
	Settings     awsssm.StringParameter
	SettingsName string
}

// newAuth builds the sign-in resources for cfg, or returns nil with auth "none".
func newAuth(scope constructs.Construct, cfg Config, fn awslambda.IFunction) *Auth {
	if !cfg.SignIn() {
		return nil
	}
	st := awscdk.Stack_Of(scope)
	deletionProtection := cfg.DeletionProtection
	pool := awscognito.NewUserPool(scope, jsii.String("UserPool"), &awscognito.UserPoolProps{
		UserPoolName:      jsii.String(cfg.StackName()),
		SelfSignUpEnabled: jsii.Bool(cfg.SelfSignUp),
		// People sign in with their username (the chat's authorizer passes it
		// on) or their e-mail address, which invitations and recovery use.
		SignInAliases:       &awscognito.SignInAliases{Username: jsii.Bool(true), Email: jsii.Bool(true)},
		SignInCaseSensitive: jsii.Bool(false),
		AutoVerify:          &awscognito.AutoVerifiedAttrs{Email: jsii.Bool(true)},
		StandardAttributes: &awscognito.StandardAttributes{
			Email: &awscognito.StandardAttribute{Required: jsii.Bool(true), Mutable: jsii.Bool(true)},
		},
		PasswordPolicy: &awscognito.PasswordPolicy{
			MinLength:        jsii.Number(passwordMinLength),
			RequireLowercase: jsii.Bool(true),
			RequireUppercase: jsii.Bool(true),
			RequireDigits:    jsii.Bool(true),
			RequireSymbols:   jsii.Bool(true),
		},
		Mfa:             awscognito.Mfa_OPTIONAL,
		MfaSecondFactor: &awscognito.MfaSecondFactor{Otp: jsii.Bool(true), Sms: jsii.Bool(false)},
		AccountRecovery: awscognito.AccountRecovery_EMAIL_ONLY,
		// Essentials: SRP, TOTP and e-mail recovery are in every plan, and
		// Essentials is the plan AWS gives new pools; Plus (threat protection)
		// is priced per monthly active user (see acceptFindings).
		FeaturePlan:        awscognito.FeaturePlan_ESSENTIALS,
		DeletionProtection: &deletionProtection,
		RemovalPolicy:      removalPolicy(cfg),
		// The same function is the pool's Pre sign-up trigger: it reserves
		// the username as the account's name (docs/design.md, "Usernames
		// are reserved at sign-up"). The CDK also lets Cognito invoke it: a
		// lambda:InvokeFunction permission for cognito-idp.amazonaws.com
		// whose SourceArn is this pool.
		LambdaTriggers: &awscognito.UserPoolTriggers{PreSignUp: fn},
	})
	client := pool.AddClient(jsii.String("WebClient"), &awscognito.UserPoolClientOptions{
		UserPoolClientName: jsii.String(cfg.StackName() + "-web"),
		// A browser keeps no secret.
		GenerateSecret: jsii.Bool(false),
		// SRP only: the password never leaves the page. The CDK adds
		// ALLOW_REFRESH_TOKEN_AUTH. The local issuer (local/) also takes
		// USER_PASSWORD_AUTH; this client refuses it.
		AuthFlows:                  &awscognito.AuthFlow{UserSrp: jsii.Bool(true)},
		DisableOAuth:               jsii.Bool(true),
		IdTokenValidity:            awscdk.Duration_Minutes(jsii.Number(idTokenMinutes)),
		AccessTokenValidity:        awscdk.Duration_Minutes(jsii.Number(idTokenMinutes)),
		RefreshTokenValidity:       awscdk.Duration_Days(jsii.Number(refreshTokenDays)),
		EnableTokenRevocation:      jsii.Bool(true),
		PreventUserExistenceErrors: jsii.Bool(true),
	})
	// Moderators: an operator adds an account (aws cognito-idp
	// admin-add-user-to-group, docs/auth.md); its ID tokens then carry the
	// group in cognito:groups, which the function's verifier believes as
	// it believes the token. No IAM role: the group grants nothing in AWS.
	awscognito.NewCfnUserPoolGroup(scope, jsii.String("ModeratorsGroup"), &awscognito.CfnUserPoolGroupProps{
		UserPoolId:  pool.UserPoolId(),
		GroupName:   jsii.String(contract.ModeratorsGroup),
		Description: jsii.String("GroupChat moderators: may remove anyone's message"),
	})
	issuer := jsii.String("https://cognito-idp." + *st.Region() + "." + *st.UrlSuffix() + "/" + *pool.UserPoolId())
	a := &Auth{UserPool: pool, Client: client, Issuer: issuer, Region: st.Region(), SelfSignUp: cfg.SelfSignUp,
		SettingsName: contract.AuthParameterName(cfg.StackName())}
	// The pool refers to the function, so the function cannot refer to
	// the pool: it reads the issuer and the client id from this parameter
	// at init, by a name fixed by the stack's name (docs/auth.md).
	a.Settings = awsssm.NewStringParameter(scope, jsii.String("SignInSettings"), &awsssm.StringParameterProps{
		ParameterName: jsii.String(a.SettingsName),
		Description:   jsii.String("GroupChat (" + cfg.Env + "): the issuer and app client the function verifies ID tokens against"),
		StringValue:   st.ToJsonString(map[string]any{"issuer": issuer, "clientId": client.UserPoolClientId()}, nil),
		Tier:          awsssm.ParameterTier_STANDARD,
	})
	// The same function answers the authorizer's REQUEST event. API Gateway
	// has no result cache for WebSocket authorizers (AuthorizerResultTtlInSeconds
	// is an HTTP API setting), and none is wanted: $connect runs once per
	// connection, so a cache would only replay a verdict after the token
	// expired or its user was disabled.
	a.Authorizer = awsapigatewayv2authorizers.NewWebSocketLambdaAuthorizer(jsii.String("ConnectAuthorizer"), fn,
		&awsapigatewayv2authorizers.WebSocketLambdaAuthorizerProps{
			AuthorizerName: jsii.String(cfg.StackName() + "-connect"),
			IdentitySource: jsii.Strings(contract.AuthIdentitySource),
		})
	a.acceptFindings()
	// Two services invoke the one function, each allowed by its own
	// permission: API Gateway (routes and the $connect authorizer) and Cognito
	// (the Pre sign-up trigger, SourceArn the pool).
	ignoreCfnLint(fn, "WS1002", "The one function serves API Gateway's routes and authorizer and the user pool's "+
		"Pre sign-up trigger (docs/design.md, usernames reserved): one permission per service, each scoped by SourceArn.")
	return a
}

// acceptFindings records the reviewed findings on the user pool (its L1
// resource only: the app client is the pool's child).
func (a *Auth) acceptFindings() {
	pool := cfnOf(a.UserPool)
	suppressNag(pool, "AwsSolutions-COG2",
		"MFA is optional (TOTP): a chat account guards no more than the chat, and requiring an authenticator app "+
			"from everyone invited would keep most of them out; anyone may turn it on for their account.")
	suppressNag(pool, "AwsSolutions-COG8",
		"The Plus feature plan (threat protection: compromised credentials, adaptive authentication) is priced "+
			"per monthly active user with no free tier; Essentials with a 12-character password policy, optional "+
			"TOTP and invitation-only sign-up by default fits a chat. docs/auth.md says how to move to Plus.")
}

// useAuth gives the function its verifier's settings (the issuer and the
// app client the ID token's audience must be): the name of the parameter
// that holds them and the right to read that one parameter, both built
// from the name, so that neither refers to the parameter or the pool.
func (c *Compute) useAuth(a *Auth) {
	if a == nil {
		return
	}
	c.Function.AddEnvironment(jsii.String(contract.EnvAuthParameter), jsii.String(a.SettingsName), nil)
	arn := awscdk.Stack_Of(c.Function).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("ssm"),
		Resource:     jsii.String("parameter"),
		ResourceName: jsii.String(strings.TrimPrefix(a.SettingsName, "/")),
	})
	c.allow("ReadSignInSettings", []string{"ssm:GetParameter"}, *arn)
}
