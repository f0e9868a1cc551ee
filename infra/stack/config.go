// Package stack defines GroupChat's AWS infrastructure: one CDK stack per
// environment, split by concern (data, compute, api, observability, hosting).
// This file turns the cdk.json context into a validated, typed Config.
package stack

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/groupchat/groupchat/contract"
)

// ContextKey is the cdk.json context key that holds one object per environment.
const ContextKey = "groupchat"

// Config is one environment's validated configuration: Defaults, overridden
// by the keys cdk.json's context "groupchat.<env>" lists (each field's json
// tag is its key); see docs/deploy.md.
type Config struct {
	Env                  string  `json:"-"`                    // the environment name (dev, prod)
	Account              string  `json:"account"`              // optional: 12 digits; empty means CDK_DEFAULT_ACCOUNT
	Region               string  `json:"region"`               // optional: empty means CDK_DEFAULT_REGION
	StageName            string  `json:"stageName"`            // the API stage, also the metrics' Stage dimension
	LogRetentionDays     int     `json:"logRetentionDays"`     // one of CloudWatch Logs' retention values
	MessageRetentionDays int     `json:"messageRetentionDays"` // how long the message log keeps a record (TTL)
	RemovalPolicy        string  `json:"removalPolicy"`        // "destroy" or "retain": tables, log groups, the alarm key
	PointInTimeRecovery  bool    `json:"pointInTimeRecovery"`  // DynamoDB PITR
	DeletionProtection   bool    `json:"deletionProtection"`   // DynamoDB deletion protection
	AlarmEmail           string  `json:"alarmEmail"`           // optional: subscribed to the alarm topic
	ThrottleRateLimit    float64 `json:"throttleRateLimit"`    // stage default route steady-state requests/s
	ThrottleBurstLimit   int     `json:"throttleBurstLimit"`   // stage default route burst
	FanoutPoolSize       int     `json:"fanoutPoolSize"`       // concurrent PostToConnection calls per invocation
	// RateLimitMessages units per person in any RateLimitWindowSeconds (the
	// budget: each action draws its contract.Action.Cost, a message one);
	// over it a frame is refused rate_limited.
	RateLimitMessages      int `json:"rateLimitMessages"`
	RateLimitWindowSeconds int `json:"rateLimitWindowSeconds"`
	// MaxDevicesPerAccount connections an account may hold at once; the
	// next $connect is refused too_many_devices.
	MaxDevicesPerAccount int `json:"maxDevicesPerAccount"`
	// MaxConnectsPerMinute $connects of an account in any minute; the next
	// is let in with nothing recorded and its hello answered rate_limited.
	MaxConnectsPerMinute int `json:"maxConnectsPerMinute"`
	ReservedConcurrency  int `json:"reservedConcurrency"` // 0: none (opt-in; fails on accounts with a low limit)
	// ManageAPIGatewayAccountRole creates the account-level CloudWatch role of
	// API Gateway (stage logging needs it) and points the account's setting
	// at it. Default false: the setting is one per account and region, so at
	// most one stack there may manage it, and an environment takes it over
	// only when its cdk.json entry says so (ParseEnvironments refuses two
	// owners in one account and region). See docs/deploy.md.
	ManageAPIGatewayAccountRole bool   `json:"manageApiGatewayAccountRole"`
	AmplifyRepository           string `json:"amplifyRepository"`     // required, no default: https://github.com/OWNER/REPO
	AmplifyBranch               string `json:"amplifyBranch"`         // the branch this environment builds
	GitHubTokenSecretName       string `json:"githubTokenSecretName"` // Secrets Manager secret holding the token
	// Auth is how people are admitted: contract.AuthCognito (sign in with
	// the environment's user pool; $connect checks the ID token) or
	// contract.AuthNone (anyone with the URL: an open demo, chosen in writing).
	Auth string `json:"auth"`
	// SelfSignUp lets anyone create an account in the user pool; false (the
	// default): an administrator invites each person. Only with auth cognito.
	SelfSignUp bool `json:"selfSignUp"`
}

// Defaults is the configuration of an environment whose cdk.json entry lists
// nothing but its repository; an entry lists only what differs from it. The
// defaults are production's: an environment that leaves a key out keeps its
// data (retained, PITR, deletion protection), production's sizing and
// sign-in (auth cognito, invitations only), so a disposable or open
// environment opts out in writing. The one exception is
// ManageAPIGatewayAccountRole, an account-wide setting rather than part of
// the stack: no environment takes it over unless its entry says so.
// AmplifyRepository and AlarmEmail have no default: they are each
// deployment's own (a stack that still carries cdk.json's example values
// cannot be deployed; see examples.go).
func Defaults(env string) Config {
	return Config{
		Env:                         env,
		StageName:                   env,
		LogRetentionDays:            90,
		MessageRetentionDays:        30,
		RemovalPolicy:               "retain",
		PointInTimeRecovery:         true,
		DeletionProtection:          true,
		ThrottleRateLimit:           500,
		ThrottleBurstLimit:          1000,
		FanoutPoolSize:              contract.DefaultFanoutPoolSize,
		RateLimitMessages:           20,
		RateLimitWindowSeconds:      10,
		MaxDevicesPerAccount:        5,
		MaxConnectsPerMinute:        20,
		ReservedConcurrency:         0,
		ManageAPIGatewayAccountRole: false,
		AmplifyBranch:               "main",
		GitHubTokenSecretName:       "groupchat/github-token",
		Auth:                        contract.AuthCognito,
		SelfSignUp:                  false,
	}
}

// StackName is the CloudFormation stack name; it makes the environment obvious.
func (c Config) StackName() string { return "GroupChat-" + c.Env }

// SignIn reports whether people sign in (auth cognito).
func (c Config) SignIn() bool { return c.Auth == contract.AuthCognito }

// Retain reports whether stateful resources outlive the stack.
func (c Config) Retain() bool { return c.RemovalPolicy == "retain" }

var (
	envNameRe  = regexp.MustCompile(`^[a-z][a-z0-9]{0,15}$`)
	accountRe  = regexp.MustCompile(`^[0-9]{12}$`)
	regionRe   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	stageRe    = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	emailRe    = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	repoRe     = regexp.MustCompile(`^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	branchRe   = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,255}$`)
	secretRe   = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	retentions = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

// EnvNames returns the environments defined in the context, sorted.
func EnvNames(raw any) ([]string, error) {
	envs, ok := raw.(map[string]any)
	if !ok || len(envs) == 0 {
		return nil, fmt.Errorf("context %q: want an object with one entry per environment", ContextKey)
	}
	names := make([]string, 0, len(envs))
	for name := range envs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// ParseConfig validates the environment env of the context value raw (the
// decoded JSON of cdk.json's "groupchat" key) over Defaults(env). Errors
// name the offending key.
func ParseConfig(raw any, env string) (Config, error) {
	names, err := EnvNames(raw)
	if err != nil {
		return Config{}, err
	}
	obj, ok := raw.(map[string]any)[env].(map[string]any)
	if !ok {
		if !slices.Contains(names, env) {
			return Config{}, fmt.Errorf("unknown environment %q: cdk.json defines %s", env, strings.Join(names, ", "))
		}
		return Config{}, fmt.Errorf("%s.%s: want an object", ContextKey, env)
	}
	if !envNameRe.MatchString(env) {
		return Config{}, fmt.Errorf("%s.%s: environment names are 1-16 lower-case letters and digits", ContextKey, env)
	}
	r := reader{prefix: ContextKey + "." + env + ".", obj: obj, seen: map[string]bool{}}
	c := Defaults(env)
	r.str(&c.Account, "account", accountRe, optional)
	r.str(&c.Region, "region", regionRe, optional)
	r.str(&c.StageName, "stageName", stageRe, required)
	r.oneOf(&c.LogRetentionDays, "logRetentionDays", retentions)
	r.intIn(&c.MessageRetentionDays, "messageRetentionDays", 1, 3650)
	r.enum(&c.RemovalPolicy, "removalPolicy", "destroy", "retain")
	r.boolean(&c.PointInTimeRecovery, "pointInTimeRecovery")
	r.boolean(&c.DeletionProtection, "deletionProtection")
	r.str(&c.AlarmEmail, "alarmEmail", emailRe, optional)
	r.number(&c.ThrottleRateLimit, "throttleRateLimit", 1, 10000)
	r.intIn(&c.ThrottleBurstLimit, "throttleBurstLimit", 1, 5000)
	r.intIn(&c.FanoutPoolSize, "fanoutPoolSize", 1, contract.MaxFanoutPoolSize)
	r.intIn(&c.RateLimitMessages, "rateLimitMessages", 1, 1000)
	r.intIn(&c.RateLimitWindowSeconds, "rateLimitWindowSeconds", 1, 3600)
	r.intIn(&c.MaxDevicesPerAccount, "maxDevicesPerAccount", 1, 100)
	r.intIn(&c.MaxConnectsPerMinute, "maxConnectsPerMinute", 1, 1000)
	r.intIn(&c.ReservedConcurrency, "reservedConcurrency", 0, 1000)
	r.boolean(&c.ManageAPIGatewayAccountRole, "manageApiGatewayAccountRole")
	r.str(&c.AmplifyRepository, "amplifyRepository", repoRe, required)
	r.str(&c.AmplifyBranch, "amplifyBranch", branchRe, required)
	r.str(&c.GitHubTokenSecretName, "githubTokenSecretName", secretRe, required)
	r.enum(&c.Auth, "auth", contract.AuthCognito, contract.AuthNone)
	r.boolean(&c.SelfSignUp, "selfSignUp")
	if c.SelfSignUp && !c.SignIn() {
		r.fail("selfSignUp", "true needs auth %q (auth is %q: there is no user pool to sign up to)", contract.AuthCognito, c.Auth)
	}
	for key := range obj {
		if !r.seen[key] {
			r.fail(key, "unknown key")
		}
	}
	if r.err != nil {
		return Config{}, r.err
	}
	return c, nil
}
