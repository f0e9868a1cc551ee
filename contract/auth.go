package contract

import "time"

// Sign-in: what the stack, the function, the local stack and the page agree
// on. docs/auth.md tells the whole path of a token.
const (
	// AuthCognito and AuthNone are the values of an environment's "auth"
	// setting: people sign in with the environment's Cognito user pool, or
	// anyone who has the URL may connect (an open demo).
	AuthCognito = "cognito"
	AuthNone    = "none"

	// AuthQueryParam carries the ID token on the WebSocket URL
	// (wss://…/<stage>?token=…): a browser cannot set headers on a
	// WebSocket. It is a secret: never logged, never in an access log.
	AuthQueryParam = "token"
	// AuthIdentitySource is the $connect authorizer's identity source.
	AuthIdentitySource = "route.request.querystring." + AuthQueryParam

	// Keys of the authorizer's context, which API Gateway passes to every
	// event of the connection as requestContext.authorizer.
	AuthContextAccountID = "accountId" // the token's sub: stable for the account
	AuthContextUsername  = "username"  // the account's username
	// AuthContextModerator is "true" when the verified token's
	// cognito:groups has ModeratorsGroup (API Gateway passes a context's
	// values as strings); absent otherwise.
	AuthContextModerator = "moderator"
	// ModeratorsGroup is the user pool's group of moderators (the stack
	// creates it): its members may remove anyone's message.
	ModeratorsGroup = "moderators"
	// RoleModerator is a state frame's role of a moderator.
	RoleModerator = "moderator"
	// AuthContextExpiresAt is the token's exp, in seconds since the Unix
	// epoch (a number): the connection's sign-in ends then, until a
	// reauth frame renews it.
	AuthContextExpiresAt = "expiresAt"
	// AuthContextIssuedAt is the token's iat (s), checked against the
	// account's last sign-out everywhere at $connect.
	AuthContextIssuedAt = "issuedAt"

	// The function's verifier settings. EnvAuthIssuer is the user pool's
	// issuer URL (https://cognito-idp.<region>.amazonaws.com/<poolId>);
	// EnvAuthClientID the app client id the ID token's audience must be.
	// Unset EnvAuthIssuer: sign-in is off. EnvAuthJWKSURL overrides where
	// the keys are fetched (the local issuer only; default <issuer>/.well-known/jwks.json).
	EnvAuthIssuer   = "AUTH_ISSUER"
	EnvAuthClientID = "AUTH_CLIENT_ID"
	EnvAuthJWKSURL  = "AUTH_JWKS_URL"
	// EnvAuthParameter names, on AWS, the SSM parameter that holds the
	// issuer and the client id instead (AuthSettings, as JSON), read once
	// at init: the user pool's Pre sign-up trigger is the function, so
	// the function cannot also name the pool in its environment (a
	// CloudFormation cycle; docs/auth.md). Set, EnvAuthIssuer and
	// EnvAuthClientID must not be.
	EnvAuthParameter = "AUTH_PARAMETER"

	// MetricAuthFailures counts connections refused at the handshake, with
	// the dimensions Stage and MetricDimensionReason.
	MetricAuthFailures    = "AuthFailures"
	MetricDimensionReason = "Reason"
)

// Variables Amplify's build of frontend/ reads with auth "cognito", beside
// EnvFrontendWSURL, for the page's config.json: the user pool the page signs
// in to (with SRP) and the issuer its ID tokens carry. With auth "none" the
// stack sets none of them.
const (
	EnvFrontendAuthRegion       = "GROUPCHAT_AUTH_REGION"         // the user pool's region, e.g. eu-west-1
	EnvFrontendUserPoolID       = "GROUPCHAT_USER_POOL_ID"        // e.g. eu-west-1_AbC123
	EnvFrontendUserPoolClientID = "GROUPCHAT_USER_POOL_CLIENT_ID" // the app client: no secret, SRP and refresh only
	EnvFrontendAuthIssuer       = "GROUPCHAT_AUTH_ISSUER"         // as EnvAuthIssuer
	EnvFrontendSignUp           = "GROUPCHAT_SIGN_UP"             // "true" when the environment's selfSignUp is on
)

// PageConfig is the page's runtime configuration, config.json next to the
// page: the WebSocket URL and, with auth "cognito", what the page signs in
// with. Amplify's build writes it from EnvFrontendWSURL and the
// GROUPCHAT_AUTH_* variables above; the local stack serves it with its own
// values (and UserPoolEndpoint, its local issuer). The page reads these
// field names.
type PageConfig struct {
	WSURL string `json:"wsUrl"`
	// Auth is AuthCognito or AuthNone; absent means AuthNone.
	Auth string `json:"auth,omitempty"`
	// Region, UserPoolID and UserPoolClientID are EnvFrontendAuthRegion,
	// EnvFrontendUserPoolID and EnvFrontendUserPoolClientID; Issuer is
	// EnvFrontendAuthIssuer, the iss of the pool's ID tokens.
	Region           string `json:"region,omitempty"`
	UserPoolID       string `json:"userPoolId,omitempty"`
	UserPoolClientID string `json:"userPoolClientId,omitempty"`
	Issuer           string `json:"issuer,omitempty"`
	// UserPoolEndpoint is the Cognito API's URL when it is not AWS's
	// (Amplify's userPoolEndpoint): the local stack's cognito-local, which
	// signs in with USER_PASSWORD_AUTH (it has no SRP). Absent on AWS.
	UserPoolEndpoint string `json:"userPoolEndpoint,omitempty"`
	// SignUp is true when people may create their own account
	// (EnvFrontendSignUp, the environment's selfSignUp): the page offers it.
	SignUp bool `json:"signUp,omitempty"`
}

// The app client's token lifetimes, the deployed user pool's (infra/stack)
// and the local issuer's (local/cognito) alike, so that what a page does at
// an expiry (tokens.ts renews 5 minutes before) happens locally as deployed.
// Whole minutes and days: the app client's units.
const (
	// IDTokenValidity is how long an ID (and access) token admits a new
	// connection, and how long a connection's sign-in lasts until the page
	// sends reauth with a renewed token (lambda/chat/reauth.go). It bounds
	// how long a disabled or signed-out account keeps its connections:
	// docs/auth.md, "How soon a sign-in ends", weighs it against the
	// renewals it costs. Cognito allows 5 minutes to 1 day.
	IDTokenValidity = 15 * time.Minute
	// RefreshTokenValidity is how long the page may renew its tokens
	// without asking for the password again.
	RefreshTokenValidity = 30 * 24 * time.Hour
)

// AuthSettings is the value of the parameter EnvAuthParameter names: what
// EnvAuthIssuer and EnvAuthClientID would say.
type AuthSettings struct {
	Issuer   string `json:"issuer"`
	ClientID string `json:"clientId"`
}

// AuthParameterName is the name of the SSM parameter that holds a stack's
// AuthSettings: fixed by the stack's name, so that the function's
// environment and its permission name it without referring to the
// parameter (or the pool).
func AuthParameterName(stackName string) string { return "/" + stackName + "/sign-in" }
