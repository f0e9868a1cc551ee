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
)

// ContextKey is the cdk.json context key that holds one object per environment.
const ContextKey = "groupchat"

// Config is one environment's validated configuration. Every field comes
// from cdk.json's context "groupchat.<env>"; see docs/deploy.md.
type Config struct {
	Env                  string  // the environment name (dev, prod)
	Account              string  // optional: 12 digits; empty means CDK_DEFAULT_ACCOUNT
	Region               string  // optional: empty means CDK_DEFAULT_REGION
	StageName            string  // the API stage, also the metrics' Stage dimension
	LogRetentionDays     int     // one of CloudWatch Logs' retention values
	MessageRetentionDays int     // how long the message log keeps a record (TTL)
	RemovalPolicy        string  // "destroy" or "retain": tables and log groups
	PointInTimeRecovery  bool    // DynamoDB PITR
	DeletionProtection   bool    // DynamoDB deletion protection
	AlarmEmail           string  // optional: subscribed to the alarm topic
	ThrottleRateLimit    float64 // stage default route steady-state requests/s
	ThrottleBurstLimit   int     // stage default route burst
	FanoutPoolSize       int     // concurrent PostToConnection calls per invocation
	ReservedConcurrency  int     // 0: none (opt-in; fails on accounts with a low limit)
	// ManageAPIGatewayAccountRole creates the account-level CloudWatch role of
	// API Gateway (stage logging needs it); false when the account's role is
	// managed elsewhere. See docs/deploy.md.
	ManageAPIGatewayAccountRole bool
	AmplifyRepository           string // https://github.com/OWNER/REPO
	AmplifyBranch               string // the branch this environment builds
	GitHubTokenSecretName       string // Secrets Manager secret holding the token
}

// StackName is the CloudFormation stack name; it makes the environment obvious.
func (c Config) StackName() string { return "GroupChat-" + c.Env }

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
// decoded JSON of cdk.json's "groupchat" key). Errors name the offending key.
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
	c := Config{
		Env:                         env,
		Account:                     r.str("account", accountRe, true),
		Region:                      r.str("region", regionRe, true),
		StageName:                   r.str("stageName", stageRe, false),
		LogRetentionDays:            r.oneOf("logRetentionDays", retentions),
		MessageRetentionDays:        r.intIn("messageRetentionDays", 1, 3650),
		RemovalPolicy:               r.enum("removalPolicy", "destroy", "retain"),
		PointInTimeRecovery:         r.boolean("pointInTimeRecovery"),
		DeletionProtection:          r.boolean("deletionProtection"),
		AlarmEmail:                  r.str("alarmEmail", emailRe, true),
		ThrottleRateLimit:           r.number("throttleRateLimit", 1, 10000),
		ThrottleBurstLimit:          r.intIn("throttleBurstLimit", 1, 5000),
		FanoutPoolSize:              r.intIn("fanoutPoolSize", 1, 100),
		ReservedConcurrency:         r.intIn("reservedConcurrency", 0, 1000),
		ManageAPIGatewayAccountRole: r.boolean("manageApiGatewayAccountRole"),
		AmplifyRepository:           r.str("amplifyRepository", repoRe, false),
		AmplifyBranch:               r.str("amplifyBranch", branchRe, false),
		GitHubTokenSecretName:       r.str("githubTokenSecretName", secretRe, false),
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

// reader reads typed values with comma-ok checks and keeps the first error.
type reader struct {
	prefix string
	obj    map[string]any
	seen   map[string]bool
	err    error
}

func (r *reader) fail(key, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s%s: %s", r.prefix, key, fmt.Sprintf(format, args...))
	}
}

func (r *reader) get(key string) (any, bool) {
	r.seen[key] = true
	v, ok := r.obj[key]
	if !ok {
		r.fail(key, "missing")
	}
	return v, ok
}

func (r *reader) str(key string, re *regexp.Regexp, optional bool) string {
	r.seen[key] = true
	v, present := r.obj[key]
	if !present && optional {
		return ""
	}
	if !present {
		r.fail(key, "missing")
		return ""
	}
	s, ok := v.(string)
	switch {
	case !ok:
		r.fail(key, "want a string, got %T", v)
	case s == "" && optional:
	case !re.MatchString(s):
		r.fail(key, "invalid value %q (want %s)", s, re)
	}
	return s
}

func (r *reader) boolean(key string) bool {
	v, ok := r.get(key)
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		r.fail(key, "want true or false, got %T", v)
	}
	return b
}

func (r *reader) number(key string, lo, hi float64) float64 {
	v, ok := r.get(key)
	if !ok {
		return 0
	}
	f, ok := v.(float64)
	if !ok {
		r.fail(key, "want a number, got %T", v)
		return 0
	}
	if f < lo || f > hi {
		r.fail(key, "%v is out of range [%v, %v]", f, lo, hi)
	}
	return f
}

func (r *reader) intIn(key string, lo, hi int) int {
	f := r.number(key, float64(lo), float64(hi))
	if f != float64(int(f)) {
		r.fail(key, "want a whole number, got %v", f)
	}
	return int(f)
}

func (r *reader) oneOf(key string, allowed []int) int {
	n := r.intIn(key, allowed[0], allowed[len(allowed)-1])
	if r.err == nil && !slices.Contains(allowed, n) {
		r.fail(key, "%d is not a CloudWatch Logs retention (%v)", n, allowed)
	}
	return n
}

func (r *reader) enum(key string, allowed ...string) string {
	v, ok := r.get(key)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok || !slices.Contains(allowed, s) {
		r.fail(key, "want one of %s, got %v", strings.Join(allowed, ", "), v)
	}
	return s
}
