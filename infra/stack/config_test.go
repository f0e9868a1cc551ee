package stack

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// shippedContext is cdk.json's "groupchat" context, as the CLI passes it.
func shippedContext(t testing.TB) map[string]any {
	t.Helper()
	ctx, err := loadContext()
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

func loadContext() (map[string]any, error) {
	all, err := cdkContext()
	if err != nil {
		return nil, err
	}
	ctx, ok := all[ContextKey].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("cdk.json has no context %q", ContextKey)
	}
	return ctx, nil
}

// featureFlags is the rest of cdk.json's context: the CDK feature flags, which
// the CLI passes to the app with it. The test apps get them too, so the
// templates asserted on are those the CLI synthesizes.
func featureFlags() (*map[string]any, error) {
	all, err := cdkContext()
	if err != nil {
		return nil, err
	}
	delete(all, ContextKey)
	return &all, nil
}

// cdkContext is cdk.json's whole context, as the CLI reads it.
func cdkContext() (map[string]any, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		return nil, err
	}
	var file struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	return file.Context, nil
}

func TestShippedConfigIsValid(t *testing.T) {
	t.Parallel()
	ctx := shippedContext(t)
	names, err := EnvNames(ctx)
	if err != nil || strings.Join(names, ",") != "dev,prod" {
		t.Fatalf("environments = %v, %v; want dev,prod", names, err)
	}
	dev, err := ParseConfig(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := ParseConfig(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if dev.StackName() != "GroupChat-dev" || prod.StackName() != "GroupChat-prod" {
		t.Errorf("stack names %q, %q", dev.StackName(), prod.StackName())
	}
	if !prod.PointInTimeRecovery || !prod.DeletionProtection || !prod.Retain() {
		t.Errorf("prod must keep its data: %+v", prod)
	}
	if dev.PointInTimeRecovery || dev.DeletionProtection || dev.Retain() {
		t.Errorf("dev is disposable: %+v", dev)
	}
	for _, days := range retentions {
		if _, ok := logRetention[days]; !ok {
			t.Errorf("retention %d accepted by config but has no CDK value", days)
		}
	}
}

// TestBadConfigIsRejected: every mistake fails with a message naming the key.
func TestBadConfigIsRejected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		env   string
		edit  func(map[string]any)
		error string
	}{
		{"unknown environment", "staging", nil, `unknown environment "staging": cdk.json defines dev, prod`},
		{"typo in environment", "Dev", nil, `unknown environment "Dev"`},
		{"missing key without a default", "dev", func(m map[string]any) { delete(m, "amplifyRepository") }, "groupchat.dev.amplifyRepository: missing"},
		{"empty key with a default", "prod", func(m map[string]any) { m["stageName"] = "" }, `groupchat.prod.stageName: invalid value ""`},
		{"wrong type", "dev", func(m map[string]any) { m["pointInTimeRecovery"] = "yes" }, "groupchat.dev.pointInTimeRecovery: want true or false, got string"},
		{"retention CloudWatch does not offer", "dev", func(m map[string]any) { m["logRetentionDays"] = 10.0 }, "groupchat.dev.logRetentionDays: 10 is not a CloudWatch Logs retention"},
		{"fractional count", "prod", func(m map[string]any) { m["fanoutPoolSize"] = 2.5 }, "groupchat.prod.fanoutPoolSize: want a whole number, got 2.5"},
		{"out of range", "prod", func(m map[string]any) { m["fanoutPoolSize"] = 0.0 }, "groupchat.prod.fanoutPoolSize: 0 is out of range [1, 256]"},
		{"bad removal policy", "prod", func(m map[string]any) { m["removalPolicy"] = "keep" }, "groupchat.prod.removalPolicy: want one of destroy, retain, got keep"},
		{"bad e-mail", "prod", func(m map[string]any) { m["alarmEmail"] = "ops" }, `groupchat.prod.alarmEmail: invalid value "ops"`},
		{"bad account", "dev", func(m map[string]any) { m["account"] = "12345" }, `groupchat.dev.account: invalid value "12345"`},
		{"bad region", "dev", func(m map[string]any) { m["region"] = "mars" }, `groupchat.dev.region: invalid value "mars"`},
		{"bad stage name", "dev", func(m map[string]any) { m["stageName"] = "my stage" }, `groupchat.dev.stageName: invalid value "my stage"`},
		{"repository not on GitHub", "dev", func(m map[string]any) { m["amplifyRepository"] = "git@example.com:x/y" }, "groupchat.dev.amplifyRepository: invalid value"},
		{"misspelt key", "dev", func(m map[string]any) { m["alarmEmial"] = "a@b.c" }, "groupchat.dev.alarmEmial: unknown key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := shippedContext(t)
			if tc.edit != nil {
				env := maps.Clone(ctx[tc.env].(map[string]any))
				tc.edit(env)
				ctx[tc.env] = env
			}
			_, err := ParseConfig(ctx, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Fatalf("error = %v, want one containing %q", err, tc.error)
			}
		})
	}
}

// exampleRepository is the repository the shipped cdk.json names.
const exampleRepository = "https://github.com/groupchat/groupchat"

// defaultsAsEntry is Defaults(env) written out as a cdk.json entry, every key
// listed, plus the repository that has no default.
func defaultsAsEntry(t *testing.T, env string) map[string]any {
	t.Helper()
	b, err := json.Marshal(Defaults(env))
	if err != nil {
		t.Fatal(err)
	}
	var entry map[string]any
	if err := json.Unmarshal(b, &entry); err != nil {
		t.Fatal(err)
	}
	entry["amplifyRepository"] = exampleRepository
	return entry
}

// TestLeftOutKeysTakeTheDefaults: a new environment that names only its
// repository gets production's settings, so it keeps its data.
func TestLeftOutKeysTakeTheDefaults(t *testing.T) {
	t.Parallel()
	got, err := ParseConfig(map[string]any{"staging": map[string]any{"amplifyRepository": exampleRepository}}, "staging")
	want := Defaults("staging")
	want.AmplifyRepository = exampleRepository
	if err != nil || got != want {
		t.Fatalf("cfg = %+v, err = %v; want %+v", got, err, want)
	}
	if got.StageName != "staging" || !got.Retain() || !got.PointInTimeRecovery || !got.DeletionProtection {
		t.Errorf("a new environment should be its own stage and keep its data: %+v", got)
	}
}

// TestDefaultsPassTheirOwnValidation: the defaults, written out key by key,
// are accepted and read back unchanged, so every default is a valid value
// and every Config field is read from its key.
func TestDefaultsPassTheirOwnValidation(t *testing.T) {
	t.Parallel()
	got, err := ParseConfig(map[string]any{"staging": defaultsAsEntry(t, "staging")}, "staging")
	want := Defaults("staging")
	want.AmplifyRepository = exampleRepository
	if err != nil || got != want {
		t.Fatalf("cfg = %+v, err = %v; want %+v", got, err, want)
	}
}

// TestShippedEnvironmentsListOnlyWhatDiffers: cdk.json repeats no default.
func TestShippedEnvironmentsListOnlyWhatDiffers(t *testing.T) {
	t.Parallel()
	for env, entry := range shippedContext(t) {
		defaults := defaultsAsEntry(t, env)
		delete(defaults, "amplifyRepository") // no default: every entry names one
		for key, value := range entry.(map[string]any) {
			if d, ok := defaults[key]; ok && reflect.DeepEqual(d, value) {
				t.Errorf("cdk.json: %s.%s.%s repeats its default %v", ContextKey, env, key, value)
			}
		}
	}
}

func TestContextMustBeAnObject(t *testing.T) {
	t.Parallel()
	for _, raw := range []any{nil, "dev", map[string]any{}} {
		if _, err := ParseConfig(raw, "dev"); err == nil || !strings.Contains(err.Error(), `context "groupchat"`) {
			t.Errorf("ParseConfig(%v) error = %v", raw, err)
		}
	}
	if _, err := ParseConfig(map[string]any{"dev": 1.0}, "dev"); err == nil || err.Error() != "groupchat.dev: want an object" {
		t.Errorf("non-object environment: %v", err)
	}
}

func TestOptionalValuesMayBeOmittedOrEmpty(t *testing.T) {
	t.Parallel()
	ctx := shippedContext(t)
	env := maps.Clone(ctx["prod"].(map[string]any))
	delete(env, "alarmEmail")
	env["account"] = ""
	ctx["prod"] = env
	cfg, err := ParseConfig(ctx, "prod")
	if err != nil || cfg.AlarmEmail != "" || cfg.Account != "" {
		t.Fatalf("cfg = %+v, err = %v", cfg, err)
	}
}

// TestEnvironmentFallsBackPerField: the configured account and region win;
// each missing one comes from the CLI's CDK_DEFAULT_*, except that the CLI's
// region alone (it always sets one, us-east-1 by default, even without
// credentials) does not pin an otherwise agnostic stack.
func TestEnvironmentFallsBackPerField(t *testing.T) {
	const acct, other, region = "111111111111", "222222222222", "eu-west-1"
	cases := []struct {
		name                  string
		cfg                   Config
		envAccount, envRegion string
		want                  string // "account/region", "" for no env at all
	}{
		{"both set", Config{}, acct, region, acct + "/" + region},
		{"CLI region only: stays agnostic", Config{}, "", region, ""},
		{"configured region only", Config{Region: "ap-south-1"}, "", region, "/ap-south-1"},
		{"account only", Config{}, acct, "", acct + "/"},
		{"neither", Config{}, "", "", ""},
		{"configured account, CLI region", Config{Account: other}, acct, region, other + "/" + region},
		{"configured region, CLI account", Config{Region: "ap-south-1"}, acct, region, acct + "/ap-south-1"},
		{"both configured", Config{Account: other, Region: "ap-south-1"}, acct, region, other + "/ap-south-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CDK_DEFAULT_ACCOUNT", tc.envAccount)
			t.Setenv("CDK_DEFAULT_REGION", tc.envRegion)
			env := environment(tc.cfg)
			got := ""
			if env != nil {
				deref := func(s *string) string {
					if s == nil {
						return ""
					}
					return *s
				}
				got = deref(env.Account) + "/" + deref(env.Region)
			}
			if got != tc.want {
				t.Errorf("environment = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCdkJSONHasNoV1Flags: CDK v1's core feature flags only restate what v2
// always does (new-style synthesis, stack-relative exports, duplicate stack
// names); cdk.json should not carry them as if they changed anything.
func TestCdkJSONHasNoV1Flags(t *testing.T) {
	t.Parallel()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"@aws-cdk/core:newStyleStackSynthesis", "@aws-cdk/core:stackRelativeExports", "@aws-cdk/core:enableStackNameDuplicates"} {
		if _, ok := file.Context[flag]; ok {
			t.Errorf("cdk.json sets %s, a CDK v1 flag with no effect in v2", flag)
		}
	}
}

// TestPreflightKnowsTheDefaults: scripts/preflight.sh checks an environment
// against the values the stack will use, so the defaults it assumes for the
// keys cdk.json leaves out are the stack's.
func TestPreflightKnowsTheDefaults(t *testing.T) {
	t.Parallel()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "scripts", "preflight-defaults.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	d := Defaults("any")
	want := map[string]any{
		"manageApiGatewayAccountRole": d.ManageAPIGatewayAccountRole,
		"amplifyBranch":               d.AmplifyBranch,
		"githubTokenSecretName":       d.GitHubTokenSecretName,
		"reservedConcurrency":         float64(d.ReservedConcurrency),
		"throttleRateLimit":           d.ThrottleRateLimit,
		"throttleBurstLimit":          float64(d.ThrottleBurstLimit),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("scripts/preflight-defaults.json = %v, want the stack's defaults %v", got, want)
	}
}
