package stack

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/internal/testkit"
)

// synthesized is one environment's stack, synthesized once for every test.
type synthesized struct {
	cfg      Config
	stack    *GroupChat
	template assertions.Template
	json     map[string]any // the template as plain Go values
	raw      string         // the template as JSON text
	findings []string       // cdk-nag errors and warnings
	report   [][]string     // cdk-nag's compliance report (NagReport.csv), one row per rule and resource
}

var stacks = map[string]*synthesized{}

// TestMain synthesizes every environment of the shipped cdk.json once, with a
// stand-in code asset (the real build runs in scripts/test-infra.sh's synth).
func TestMain(m *testing.M) {
	if testkit.SlowPackage("the CDK synth of every environment") {
		os.Exit(0)
	}
	if err := synthAll(); err != nil {
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
	status := m.Run()
	jsii.Close()
	os.Exit(status)
}

func synthAll() error {
	dir, err := os.MkdirTemp("", "groupchat-code")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	codeDir := filepath.Join(dir, "code")
	if err := os.Mkdir(codeDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(codeDir, "bootstrap"), []byte("stand-in"), 0o755); err != nil {
		return err
	}
	ctx, err := loadContext()
	if err != nil {
		return err
	}
	// The assertions expect environment-agnostic stacks, whatever the shell sets.
	for _, v := range []string{"CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"} {
		if err := os.Unsetenv(v); err != nil {
			return err
		}
	}
	flags, err := featureFlags()
	if err != nil {
		return err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(dir, "cdk.out")), Context: flags})
	for _, env := range []string{"dev", "prod"} {
		cfg, err := ParseConfig(ctx, env)
		if err != nil {
			return err
		}
		code := awslambda.Code_FromAsset(jsii.String(codeDir), nil)
		stacks[env] = &synthesized{cfg: cfg, stack: New(app, &Props{Config: cfg, Code: code})}
	}
	// Variants of dev in the same app: an open demo, self sign-up (auth_test.go).
	variants, err := variantConfigs(ctx)
	if err != nil {
		return err
	}
	for _, cfg := range variants {
		code := awslambda.Code_FromAsset(jsii.String(codeDir), nil)
		stacks[cfg.Env] = &synthesized{cfg: cfg, stack: New(app, &Props{Config: cfg, Code: code})}
	}
	for _, s := range stacks {
		s.template = assertions.Template_FromStack(s.stack.Stack, nil)
		s.json = *s.template.ToJSON()
		b, err := json.Marshal(s.json)
		if err != nil {
			return err
		}
		s.raw = string(b)
		findings, err := nagFindings(assertions.Annotations_FromStack(s.stack.Stack))
		if err != nil {
			return err
		}
		s.findings = findings
		// cdk-nag writes its report into the app's outdir while synthesizing.
		if s.report, err = readNagReport(filepath.Join(dir, "cdk.out", "AwsSolutions--"+s.cfg.StackName()+"-NagReport.csv")); err != nil {
			return err
		}
	}
	return nil
}

func readNagReport(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return rows[1:], nil // without the header
}

// check turns a failed assertions.* call (a panic through jsii) into a test error.
func check(t *testing.T, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%v", r)
		}
	}()
	assertion()
}

// nagFindings lists the stack's error and warning annotations (cdk-nag's
// unsuppressed findings). They are read through JSON: the Go type the
// assertions API returns is deprecated and has no Go replacement yet.
func nagFindings(ann assertions.Annotations) ([]string, error) {
	pattern := assertions.Match_StringLikeRegexp(jsii.String(".*"))
	var out []string
	for _, found := range []any{ann.FindError(jsii.String("*"), pattern), ann.FindWarning(jsii.String("*"), pattern)} {
		b, err := json.Marshal(found)
		if err != nil {
			return nil, err
		}
		var msgs []struct {
			ID    string `json:"id"`
			Entry struct {
				Data any `json:"data"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(b, &msgs); err != nil {
			return nil, err
		}
		for _, m := range msgs {
			out = append(out, fmt.Sprintf("%s: %v", m.ID, m.Entry.Data))
		}
	}
	return out, nil
}

// each runs f once per environment.
func each(t *testing.T, f func(t *testing.T, s *synthesized)) {
	for _, env := range []string{"dev", "prod"} {
		t.Run(env, func(t *testing.T) { f(t, stacks[env]) })
	}
}

// resources returns the template's resources of one type, by logical id.
func (s *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		if r := r.(map[string]any); r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func props(r map[string]any) map[string]any { return r["Properties"].(map[string]any) }

func (s *synthesized) logicalID(c awscdk.CfnElement) string {
	return *s.stack.GetLogicalId(c)
}

func ref(id string) map[string]any         { return map[string]any{"Ref": id} }
func arnOf(id string) map[string]any       { return map[string]any{"Fn::GetAtt": []any{id, "Arn"}} }
func asJSON(v any) string                  { b, _ := json.Marshal(v); return string(b) }
func sameJSON(a, b any) bool               { return asJSON(a) == asJSON(b) }
func count(s *synthesized, typ string) int { return len(s.resources(typ)) }

func TestCdkNagFindsNothing(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		if len(s.findings) > 0 {
			t.Errorf("%d unsuppressed cdk-nag findings:\n%s", len(s.findings), strings.Join(s.findings, "\n"))
		}
	})
}

// TestEveryNagSuppressionIsUsed: each cdk-nag suppression, and each
// appliesTo entry of a granular one, silences a finding cdk-nag actually
// reports (a "Suppressed" row of its compliance report), so none is stale.
func TestEveryNagSuppressionIsUsed(t *testing.T) {
	each(t, everyNagSuppressionIsUsed)
}

func everyNagSuppressionIsUsed(t *testing.T, s *synthesized) {
	var suppressed []string // "rule|exception reason"
	for _, row := range s.report {
		if len(row) > 3 && row[2] == "Suppressed" {
			suppressed = append(suppressed, row[0]+"|"+row[3])
		}
	}
	if len(suppressed) == 0 {
		t.Fatal("the cdk-nag report has no suppressed findings: is it read from the right place?")
	}
	used := func(rule string, finding func(reason string) bool) bool {
		return slices.ContainsFunc(suppressed, func(sr string) bool {
			r, reason, _ := strings.Cut(sr, "|")
			return r == rule && finding(reason)
		})
	}
	for id, r := range s.json["Resources"].(map[string]any) {
		meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
		nag, _ := meta["cdk_nag"].(map[string]any)
		rules, _ := nag["rules_to_suppress"].([]any)
		for _, x := range rules {
			rule := x.(map[string]any)
			ruleID := rule["id"].(string)
			appliesTo, _ := rule["applies_to"].([]any)
			if len(appliesTo) == 0 && !used(ruleID, func(string) bool { return true }) {
				t.Errorf("%s: suppression of %s silences no finding", id, ruleID)
			}
			// A granular finding's reason starts with "[the finding] ".
			for _, a := range appliesTo {
				var match func(string) bool
				switch a := a.(type) {
				case string:
					match = func(reason string) bool { return strings.HasPrefix(reason, "["+a+"] ") }
				case map[string]any:
					re, err := regexp.Compile(strings.TrimSuffix(strings.TrimPrefix(a["regex"].(string), "/"), "/"))
					if err != nil {
						t.Fatalf("%s: %v", id, err)
					}
					match = func(reason string) bool {
						finding, _, ok := strings.Cut(strings.TrimPrefix(reason, "["), "] ")
						return strings.HasPrefix(reason, "[") && ok && re.MatchString(finding)
					}
				default:
					t.Fatalf("%s: appliesTo entry %v", id, a)
				}
				if !used(ruleID, match) {
					t.Errorf("%s: %s suppression lists %v, which cdk-nag never reports", id, ruleID, a)
				}
			}
		}
	}
}

func TestOutputs(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		for _, o := range []string{"WebSocketURL", "ManagementURL", "FrontendURL", "AmplifyAppId", "DashboardURL", "AlarmTopicArn",
			"ConnectionsTableName", "MessagesTableName", "FunctionName"} {
			check(t, func() {
				s.template.HasOutput(jsii.String(o), map[string]any{"Description": assertions.Match_AnyValue()})
			})
		}
	})
}

// TestEverySkipHasAReason: checkov skips in the metadata carry comments.
func TestEverySkipHasAReason(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		var n int
		for id, r := range s.json["Resources"].(map[string]any) {
			meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
			ck, _ := meta["checkov"].(map[string]any)
			skips, _ := ck["skip"].([]any)
			for _, sk := range skips {
				n++
				if c, _ := sk.(map[string]any)["comment"].(string); len(c) < 40 {
					t.Errorf("%s: checkov skip %v has no real reason", id, sk)
				}
			}
			lint, _ := meta["cfn-lint"].(map[string]any)
			lintCfg, _ := lint["config"].(map[string]any)
			ignored, _ := lintCfg["ignore_checks"].([]any)
			reasons, _ := meta["cfn-lint-reasons"].(map[string]any)
			for _, rule := range ignored {
				if reason, _ := reasons[rule.(string)].(string); len(reason) < 40 {
					t.Errorf("%s: cfn-lint ignores %v without a reason", id, rule)
				}
			}
			nag, _ := meta["cdk_nag"].(map[string]any)
			rules, _ := nag["rules_to_suppress"].([]any)
			for _, rule := range rules {
				if reason, _ := rule.(map[string]any)["reason"].(string); len(reason) < 40 {
					t.Errorf("%s: cdk-nag suppression %v has no real reason", id, rule)
				}
			}
		}
		if n == 0 {
			t.Error("no checkov skips found: the metadata helper is broken")
		}
	})
}

// TestNewWithoutConfigNamesIt: nil or empty props stop with a message that
// names the missing Config, not with a nil dereference deep in the stack.
func TestNewWithoutConfigNamesIt(t *testing.T) {
	t.Parallel()
	for _, props := range []*Props{nil, {}} {
		func() {
			defer func() {
				if msg, _ := recover().(string); !strings.Contains(msg, "props.Config is empty") {
					t.Errorf("New(%v) panicked with %q, want one naming props.Config", props, msg)
				}
			}()
			New(nil, props)
		}()
	}
}
