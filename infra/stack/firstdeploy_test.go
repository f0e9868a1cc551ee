package stack

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// The first deploy of an environment (issue 14): what a failed create
// leaves behind, the account-wide API Gateway setting, the example values
// cdk.json ships, and the alarm key and dashboard link of a new stack.

// TestAFailedCreateLeavesNothingBehind: every resource a retaining
// environment keeps (tables, log groups, the alarm key) is kept on stack
// deletion and on replacement, but deleted when the operation that created
// it rolls back. The one exception is API Gateway's account-level logging
// role, which the account setting may already name when that rollback runs.
func TestAFailedCreateLeavesNothingBehind(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		role := ""
		if s.cfg.ManageAPIGatewayAccountRole {
			role = s.accountRoleID(t)
		}
		var kept []string
		for id, r := range s.json["Resources"].(map[string]any) {
			r := r.(map[string]any)
			deletion, replace := r["DeletionPolicy"], r["UpdateReplacePolicy"]
			if deletion == nil || deletion == "Delete" {
				if replace != nil && replace != "Delete" {
					t.Errorf("%s (%s): UpdateReplacePolicy %v with DeletionPolicy %v", id, r["Type"], replace, deletion)
				}
				continue
			}
			kept = append(kept, r["Type"].(string))
			want := [2]any{"RetainExceptOnCreate", "Retain"}
			if id == role {
				want = [2]any{"Retain", "Retain"}
			}
			if got := [2]any{deletion, replace}; got != want {
				t.Errorf("%s (%s): DeletionPolicy %v, UpdateReplacePolicy %v; want %v, %v", id, r["Type"], deletion, replace, want[0], want[1])
			}
		}
		slices.Sort(kept)
		var want []string
		if s.cfg.Retain() {
			want = []string{"AWS::DynamoDB::Table", "AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::Logs::LogGroup"}
			if s.cfg.SignIn() {
				want = append(want, "AWS::Cognito::UserPool")
			}
			slices.Sort(want)
		}
		if role != "" {
			want = append(want, "AWS::IAM::Role")
			slices.Sort(want)
		}
		if !slices.Equal(kept, want) {
			t.Errorf("resources kept after the stack: %v, want %v", kept, want)
		}
	})
}

// accountRoleID is the logical id of the role the API Gateway account
// setting names.
func (s *synthesized) accountRoleID(t *testing.T) string {
	t.Helper()
	accounts := s.resources("AWS::ApiGateway::Account")
	if len(accounts) != 1 {
		t.Fatalf("%d AWS::ApiGateway::Account resources, want 1", len(accounts))
	}
	for _, a := range accounts {
		arn, _ := props(a)["CloudWatchRoleArn"].(map[string]any)["Fn::GetAtt"].([]any)
		if len(arn) == 2 {
			return arn[0].(string)
		}
	}
	t.Fatal("the account setting names no role of the stack")
	return ""
}

// TestAccountSettingWaitsForTheAPI: as the CDK's RestApi does, the account
// setting is applied after the API exists (a fresh account refuses the role
// before it has an API Gateway resource).
func TestAccountSettingWaitsForTheAPI(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		accounts := s.resources("AWS::ApiGateway::Account")
		if !s.cfg.ManageAPIGatewayAccountRole {
			if len(accounts) != 0 {
				t.Errorf("%d account settings, though %s does not manage it", len(accounts), s.cfg.Env)
			}
			return
		}
		api := s.logicalID(cfnOf(s.stack.API.Api))
		for id, a := range accounts {
			if !slices.Contains(toStrings(a["DependsOn"]), api) {
				t.Errorf("%s depends on %v, not on the API %s", id, a["DependsOn"], api)
			}
		}
	})
}

// TestOnlyProdManagesTheAccountSetting: an environment takes over API
// Gateway's account-wide CloudWatch role setting only when its cdk.json
// entry says so; the shipped cdk.json gives it to prod, the stack that
// outlives the others.
func TestOnlyProdManagesTheAccountSetting(t *testing.T) {
	if Defaults("staging").ManageAPIGatewayAccountRole {
		t.Error("Defaults: manageApiGatewayAccountRole is true; a new environment would take over the account's setting")
	}
	for env, want := range map[string]bool{"dev": false, "prod": true} {
		s := stacks[env]
		if s.cfg.ManageAPIGatewayAccountRole != want {
			t.Errorf("shipped %s: manageApiGatewayAccountRole = %v, want %v", env, s.cfg.ManageAPIGatewayAccountRole, want)
		}
		if n := count(s, "AWS::ApiGateway::Account"); n != map[bool]int{true: 1, false: 0}[want] {
			t.Errorf("%s template: %d account settings", env, n)
		}
	}
}

// TestTwoOwnersOfTheAccountSettingAreRefused: two environments that would
// both manage the setting of one account and region stop the synth, with a
// message naming both; where either's account or region is unknown, or they
// differ, or only one manages it, the synth goes on.
func TestTwoOwnersOfTheAccountSettingAreRefused(t *testing.T) {
	const acct, other, region = "111111111111", "222222222222", "eu-west-1"
	entry := func(kv ...any) map[string]any {
		m := map[string]any{"amplifyRepository": "https://github.com/someone/groupchat"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	manages := func(kv ...any) map[string]any {
		return entry(append([]any{"manageApiGatewayAccountRole", true}, kv...)...)
	}
	cases := []struct {
		name                  string
		envs                  map[string]any
		envAccount, envRegion string
		error                 string // "" for none
	}{
		{"both configured to one account and region", map[string]any{
			"dev": manages("account", acct, "region", region), "prod": manages("account", acct, "region", region)}, "", "",
			"groupchat.dev and groupchat.prod both set manageApiGatewayAccountRole and deploy to account 111111111111, region eu-west-1"},
		{"both in the CLI's account and region", map[string]any{"dev": manages(), "prod": manages()}, acct, region,
			"groupchat.dev and groupchat.prod both set manageApiGatewayAccountRole and deploy to account 111111111111, region eu-west-1"},
		{"configured region, CLI account", map[string]any{"dev": manages("region", region), "prod": manages("region", region)}, acct, "us-east-1",
			"groupchat.dev and groupchat.prod both set"},
		{"three owners, one refusal naming them all", map[string]any{"a": manages(), "b": manages(), "c": manages()}, acct, region,
			"groupchat.a, groupchat.b, groupchat.c all set manageApiGatewayAccountRole"},
		{"different regions", map[string]any{"dev": manages("region", "us-east-1"), "prod": manages("region", region)}, acct, "", ""},
		{"different accounts", map[string]any{"dev": manages("account", other), "prod": manages()}, acct, region, ""},
		{"no account known (offline synth)", map[string]any{"dev": manages(), "prod": manages()}, "", region, ""},
		{"only one manages it", map[string]any{"dev": entry(), "prod": manages()}, acct, region, ""},
		{"the shipped cdk.json", shippedContext(t), acct, region, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CDK_DEFAULT_ACCOUNT", tc.envAccount)
			t.Setenv("CDK_DEFAULT_REGION", tc.envRegion)
			cfgs, err := ParseEnvironments(tc.envs)
			switch {
			case tc.error == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.error == "" && len(cfgs) != len(tc.envs):
				t.Fatalf("%d configs for %d environments", len(cfgs), len(tc.envs))
			case tc.error != "" && (err == nil || !strings.Contains(err.Error(), tc.error)):
				t.Fatalf("error %v, want one containing %q", err, tc.error)
			}
		})
	}
}

// TestExampleValuesAreRecognised: the values cdk.json ships, and their
// obvious variants, are examples; a deployment's own are not.
func TestExampleValuesAreRecognised(t *testing.T) {
	t.Parallel()
	cases := []struct {
		repo, email string
		want        []string // keys
	}{
		{ExampleRepository, "ops@example.com", []string{"amplifyRepository", "alarmEmail"}},
		{"https://github.com/GroupChat/GroupChat.git", "", []string{"amplifyRepository"}},
		{"https://github.com/someone/groupchat", "alerts@EXAMPLE.org", []string{"alarmEmail"}},
		{"https://github.com/someone/groupchat", "ops@example.company.com", nil},
		{"https://github.com/groupchat/groupchat-fork", "", nil},
	}
	for _, tc := range cases {
		var got []string
		for _, ex := range (Config{AmplifyRepository: tc.repo, AlarmEmail: tc.email}).Examples() {
			got = append(got, ex.Key)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Examples(%q, %q) = %v, want %v", tc.repo, tc.email, got, tc.want)
		}
	}
}

// TestExampleValuesCannotBeDeployed: a stack that still carries example
// values synthesizes (CI's offline synth of the shipped cdk.json), but its
// template has a rule whose assertions fail, one per example value, each
// naming the key, so CloudFormation refuses to create or update it however
// it is deployed. A stack with real values has no such rule.
func TestExampleValuesCannotBeDeployed(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		examples := s.cfg.Examples()
		if len(examples) == 0 {
			t.Fatalf("shipped %s has no example values; this test expects cdk.json's", s.cfg.Env)
		}
		rule, _ := s.json["Rules"].(map[string]any)[ExampleValuesRuleID].(map[string]any)
		if rule == nil {
			t.Fatalf("no rule %s in the template; rules: %v", ExampleValuesRuleID, slices.Collect(maps.Keys(s.json["Rules"].(map[string]any))))
		}
		if _, conditional := rule["RuleCondition"]; conditional {
			t.Errorf("rule %s has a condition: it must always apply", ExampleValuesRuleID)
		}
		assertions := rule["Assertions"].([]any)
		if len(assertions) != len(examples) {
			t.Fatalf("%d assertions for %d example values", len(assertions), len(examples))
		}
		for i, a := range assertions {
			a := a.(map[string]any)
			ex := examples[i]
			if holds, err := evalRule(a["Assert"]); err != nil || holds {
				t.Errorf("assertion for %s holds (%v, %v): it would let the deploy through", ex.Key, holds, err)
			}
			desc, _ := a["AssertDescription"].(string)
			if !strings.Contains(desc, "groupchat."+s.cfg.Env+"."+ex.Key) || !strings.Contains(desc, ex.Value) {
				t.Errorf("assertion description %q does not name %s.%s and its value", desc, s.cfg.Env, ex.Key)
			}
		}
	})
	t.Run("real values", func(t *testing.T) {
		s, err := realValues()
		if err != nil {
			t.Fatal(err)
		}
		if ex := s.cfg.Examples(); len(ex) != 0 {
			t.Fatalf("the real-values config still has examples %v", ex)
		}
		rules, _ := s.json["Rules"].(map[string]any)
		if _, ok := rules[ExampleValuesRuleID]; ok {
			t.Errorf("rule %s in a stack with real values", ExampleValuesRuleID)
		}
		if _, ok := rules["CheckBootstrapVersion"]; !ok {
			t.Errorf("the real-values template has no CDK rules at all (%v): is it read from the right place?", rules)
		}
	})
}

// evalRule evaluates the constant rule functions the example-value rule uses.
func evalRule(v any) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("not a rule function: %v", v)
	}
	for fn, args := range m {
		args, _ := args.([]any)
		switch {
		case fn == "Fn::Not" && len(args) == 1:
			b, err := evalRule(args[0])
			return !b, err
		case fn == "Fn::Contains" && len(args) == 2:
			list, _ := args[0].([]any)
			return slices.Contains(list, args[1]), nil
		case fn == "Fn::Equals" && len(args) == 2:
			return args[0] == args[1], nil
		}
		return false, fmt.Errorf("unexpected rule function %s%v", fn, args)
	}
	return false, nil
}

// realValues is prod as a deployment configures it (its own repository and
// e-mail), synthesized once, on first use.
var realValues = sync.OnceValues(func() (*synthesized, error) {
	ctx, err := loadContext()
	if err != nil {
		return nil, err
	}
	prod := maps.Clone(ctx["prod"].(map[string]any))
	prod["amplifyRepository"] = "https://github.com/someone/groupchat"
	prod["alarmEmail"] = "oncall@someone.dev"
	ctx["prod"] = prod
	cfg, err := ParseConfig(ctx, "prod")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "groupchat-real")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	code := filepath.Join(dir, "code")
	if err := os.Mkdir(code, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(code, "bootstrap"), []byte("stand-in"), 0o755); err != nil {
		return nil, err
	}
	flags, err := featureFlags()
	if err != nil {
		return nil, err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(dir, "cdk.out")), Context: flags})
	st := New(app, &Props{Config: cfg, Code: awslambda.Code_FromAsset(jsii.String(code), nil)})
	s := &synthesized{cfg: cfg, stack: st, template: assertions.Template_FromStack(st.Stack, nil)}
	s.json = *s.template.ToJSON()
	b, err := json.Marshal(s.json)
	s.raw = string(b)
	return s, err
})

// TestAlarmKeyServesOnlyThisAccountsAlarms: CloudWatch may use the topic's
// key only on behalf of alarms of the stack's account, as the topic policy
// lets only they publish.
func TestAlarmKeyServesOnlyThisAccountsAlarms(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		keys := s.resources("AWS::KMS::Key")
		if len(keys) != 1 {
			t.Fatalf("%d keys, want 1", len(keys))
		}
		found := 0
		for _, k := range keys {
			for _, st := range props(k)["KeyPolicy"].(map[string]any)["Statement"].([]any) {
				st := st.(map[string]any)
				if !sameJSON(st["Principal"], map[string]any{"Service": "cloudwatch.amazonaws.com"}) {
					continue
				}
				found++
				want := map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")}}
				if !sameJSON(st["Condition"], want) {
					t.Errorf("CloudWatch's key statement: condition %s, want %s", asJSON(st["Condition"]), asJSON(want))
				}
			}
		}
		if found != 1 {
			t.Errorf("%d key statements for CloudWatch, want 1", found)
		}
	})
}

// TestDashboardURLFollowsThePartition: the DashboardURL output, evaluated as
// CloudFormation would in each partition, links to that partition's console.
func TestDashboardURLFollowsThePartition(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		dashboard := s.logicalID(cfnOf(s.stack.Observability.Dashboard))
		value := s.json["Outputs"].(map[string]any)["DashboardURL"].(map[string]any)["Value"]
		conditions, _ := s.json["Conditions"].(map[string]any)
		for partition, host := range map[string]string{
			"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn", "aws-us-gov": "console.amazonaws-us-gov.com",
			"aws-iso": "console.aws.amazon.com", // no console of its own known here: the commercial one, not a failed deploy
		} {
			got, err := evalOutput(value, conditions, map[string]string{"AWS::Partition": partition, "AWS::Region": "REGION"})
			want := "https://" + host + "/cloudwatch/home?region=REGION#dashboards:name=" + dashboard
			if err != nil || got != want {
				t.Errorf("%s: DashboardURL = %q (%v), want %q", partition, got, err, want)
			}
		}
	})
}

// evalOutput evaluates the intrinsic functions of an output value: Ref
// (pseudo parameters from refs, else the logical id), Fn::Join, Fn::If and
// the Fn::Equals of a condition.
func evalOutput(v any, conditions map[string]any, refs map[string]string) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case map[string]any:
		if id, ok := v["Ref"].(string); ok {
			if r, ok := refs[id]; ok {
				return r, nil
			}
			return id, nil
		}
		if join, ok := v["Fn::Join"].([]any); ok && len(join) == 2 {
			var parts []string
			for _, p := range join[1].([]any) {
				s, err := evalOutput(p, conditions, refs)
				if err != nil {
					return "", err
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, join[0].(string)), nil
		}
		if ifs, ok := v["Fn::If"].([]any); ok && len(ifs) == 3 {
			cond, _ := conditions[ifs[0].(string)].(map[string]any)
			eq, _ := cond["Fn::Equals"].([]any)
			if len(eq) != 2 {
				return "", fmt.Errorf("condition %v: %v", ifs[0], cond)
			}
			a, err := evalOutput(eq[0], conditions, refs)
			if err != nil {
				return "", err
			}
			b, err := evalOutput(eq[1], conditions, refs)
			if err != nil {
				return "", err
			}
			if a == b {
				return evalOutput(ifs[1], conditions, refs)
			}
			return evalOutput(ifs[2], conditions, refs)
		}
	}
	return "", fmt.Errorf("cannot evaluate %v", v)
}
