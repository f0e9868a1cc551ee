package stack

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/lambda/mgmt"
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

// TestSixRoutesOneFunction: exactly the contract's routes, one integration,
// one function, a route response only on two-way routes.
func TestSixRoutesOneFunction(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		check(t, func() { s.template.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(1)) })
		check(t, func() {
			s.template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), map[string]any{
				"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": contract.RouteSelectionExpression,
			})
		})
		integrations := s.resources("AWS::ApiGatewayV2::Integration")
		if len(integrations) != 1 {
			t.Fatalf("%d integrations, want 1", len(integrations))
		}
		var integrationID string
		for id, r := range integrations {
			integrationID = id
			uri := asJSON(props(r)["IntegrationUri"])
			if !strings.Contains(uri, asJSON(arnOf(s.logicalID(cfnOf(s.stack.Compute.Function))))) {
				t.Errorf("integration invokes %s, not the handler", uri)
			}
		}
		var keys, want []string
		twoWay := map[string]string{} // route logical id -> key
		for id, r := range s.resources("AWS::ApiGatewayV2::Route") {
			p := props(r)
			key := p["RouteKey"].(string)
			keys = append(keys, key)
			if !sameJSON(p["Target"], map[string]any{"Fn::Join": []any{"", []any{"integrations/", ref(integrationID)}}}) {
				t.Errorf("route %s targets %v", key, p["Target"])
			}
			if r, _ := contract.LookupRoute(key); r.TwoWay {
				twoWay[id] = key
			}
		}
		for _, r := range contract.Routes() {
			want = append(want, r.Key)
		}
		sort.Strings(keys)
		sort.Strings(want)
		if !slices.Equal(keys, want) {
			t.Errorf("routes %v, want %v", keys, want)
		}
		responses := s.resources("AWS::ApiGatewayV2::RouteResponse")
		if len(responses) != len(twoWay) {
			t.Errorf("%d route responses, want %d (two-way routes %v)", len(responses), len(twoWay), twoWay)
		}
		for _, r := range responses {
			routeID := props(r)["RouteId"].(map[string]any)["Ref"].(string)
			if _, ok := twoWay[routeID]; !ok {
				t.Errorf("route response on one-way route %s", routeID)
			}
		}
		// One per route, and with sign-in the $connect authorizer's
		// (auth_test.go) and the user pool's trigger's (auth_trigger_test.go).
		if n, w := count(s, "AWS::Lambda::Permission"), len(want)+2*authorizers(s); n != w {
			t.Errorf("%d invoke permissions, want %d: one per route, the authorizer's, the trigger's", n, w)
		}
	})
}

// TestHandlerPolicyIsExact: the handler's role allows exactly what it calls.
// Each statement's actions are sorted: cdk.json sets the feature flag
// @aws-cdk/aws-iam:minimizePolicies, which sorts them (and would merge
// statements that differ only in their actions; these differ in resources).
func TestHandlerPolicyIsExact(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		conn, msgs := s.logicalID(cfnOf(s.stack.Data.Connections)), s.logicalID(cfnOf(s.stack.Data.Messages))
		logs, api := s.logicalID(cfnOf(s.stack.Compute.LogGroup)), s.logicalID(cfnOf(s.stack.API.Api))
		want := []any{
			map[string]any{"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": []any{"logs:CreateLogStream", "logs:PutLogEvents"}, "Resource": arnOf(logs)},
			map[string]any{"Effect": "Allow", "Action": []any{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}, "Resource": "*"},
			map[string]any{"Sid": "ConnectionsTable", "Effect": "Allow", "Resource": arnOf(conn),
				"Action": []any{"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}},
			map[string]any{"Sid": "ConnectionsIndexbyRoom", "Effect": "Allow", "Action": "dynamodb:Query",
				"Resource": map[string]any{"Fn::Join": []any{"", []any{arnOf(conn), "/index/" + contract.RoomIndex}}}},
			map[string]any{"Sid": "ConnectionsIndexbyAccount", "Effect": "Allow", "Action": "dynamodb:Query",
				"Resource": map[string]any{"Fn::Join": []any{"", []any{arnOf(conn), "/index/" + contract.AccountIndex}}}},
			map[string]any{"Sid": "MessagesTable", "Effect": "Allow", "Action": []any{"dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}, "Resource": arnOf(msgs)},
			map[string]any{"Sid": "PostToConnection", "Effect": "Allow", "Action": "execute-api:ManageConnections",
				"Resource": map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":execute-api:", ref("AWS::Region"), ":",
					ref("AWS::AccountId"), ":", ref(api), "/" + s.cfg.StageName + "/POST/@connections/*"}}}},
		}
		if s.cfg.SignIn() {
			want = append(want, map[string]any{"Sid": "ReadSignInSettings", "Effect": "Allow", "Action": "ssm:GetParameter",
				"Resource": map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":ssm:", ref("AWS::Region"), ":",
					ref("AWS::AccountId"), ":parameter" + contract.AuthParameterName(s.cfg.StackName())}}}})
		}
		if got := handlerStatements(t, s); !sameJSON(got, want) {
			t.Errorf("handler policy:\n got %s\nwant %s", asJSON(got), asJSON(want))
		}
		r := s.resources("AWS::IAM::Role")[s.logicalID(cfnOf(s.stack.Compute.Role))]
		if p := props(r); p["ManagedPolicyArns"] != nil || p["Policies"] != nil {
			t.Errorf("handler role has other policies: %v", p)
		}
		for _, bad := range []string{`"dynamodb:Scan"`, `"dynamodb:*"`, `FullAccess`, `"Action":"*"`} {
			if strings.Contains(s.raw, bad) {
				t.Errorf("template contains %s", bad)
			}
		}
	})
}

// handlerStatements are the statements of the one policy attached to the
// handler's role.
func handlerStatements(t *testing.T, s *synthesized) []any {
	t.Helper()
	role := s.logicalID(cfnOf(s.stack.Compute.Role))
	var statements []any
	found := 0
	for _, p := range s.resources("AWS::IAM::Policy") {
		if sameJSON(props(p)["Roles"], []any{ref(role)}) {
			found++
			statements = props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any)
		}
	}
	if found != 1 {
		t.Fatalf("%d policies attached to the handler role, want 1", found)
	}
	return statements
}

// managementVerbs maps each management API call to the HTTP verb its
// execute-api:ManageConnections permission names in the resource.
var managementVerbs = map[string]string{"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}

// authorizedAs maps a DynamoDB call that is no IAM action of its own to the
// actions that authorize it: a transaction is authorized per item, as the
// PutItem, UpdateItem and DeleteItem its actions are (the store's
// transactions have no ConditionCheck, so dynamodb:ConditionCheckItem is
// not granted).
var authorizedAs = map[string][]string{"TransactWriteItems": {"PutItem", "UpdateItem", "DeleteItem"}}

// TestHandlerPolicyMatchesTheSDKInterfaces ties the policy to the code: every
// method of the interfaces through which the handler calls AWS (dynamo.API,
// mgmt.API) is granted, and the policy grants no DynamoDB action and no
// @connections verb that none of them calls.
func TestHandlerPolicyMatchesTheSDKInterfaces(t *testing.T) {
	methods := func(iface reflect.Type) []string {
		var out []string
		for i := range iface.NumMethod() {
			out = append(out, iface.Method(i).Name)
		}
		return out
	}
	dynamoCalls := methods(reflect.TypeFor[dynamo.API]())
	mgmtCalls := methods(reflect.TypeFor[mgmt.API]())
	if len(dynamoCalls) == 0 || len(mgmtCalls) == 0 {
		t.Fatalf("no methods found: dynamo.API %v, mgmt.API %v", dynamoCalls, mgmtCalls)
	}
	verbRe := regexp.MustCompile(`/([A-Z]+)/@connections/\*"`)
	each(t, func(t *testing.T, s *synthesized) {
		tables := []string{s.logicalID(cfnOf(s.stack.Data.Connections)), s.logicalID(cfnOf(s.stack.Data.Messages))}
		api := s.logicalID(cfnOf(s.stack.API.Api))
		dynamoGranted := map[string]bool{} // "dynamodb:Action", on a table or its index
		verbsGranted := map[string]bool{}  // @connections verbs allowed by execute-api:ManageConnections
		for _, st := range handlerStatements(t, s) {
			st := st.(map[string]any)
			actions, ok := st["Action"].([]any)
			if !ok {
				actions = []any{st["Action"]}
			}
			resource := asJSON(st["Resource"])
			for _, a := range actions {
				a := a.(string)
				switch {
				case strings.HasPrefix(a, "dynamodb:"):
					onTable := func(id string) bool { return strings.Contains(resource, asJSON(arnOf(id))) } // the table or its index
					if !slices.ContainsFunc(tables, onTable) {
						t.Errorf("%s is granted on %s, not on one of the tables %v", a, resource, tables)
					}
					dynamoGranted[a] = true
				case a == "execute-api:ManageConnections":
					m := verbRe.FindStringSubmatch(resource)
					if m == nil || !strings.Contains(resource, asJSON(ref(api))) {
						t.Errorf("%s is granted on %s, not on the API's @connections", a, resource)
						continue
					}
					verbsGranted[m[1]] = true
				}
			}
		}
		for _, m := range dynamoCalls {
			actions, ok := authorizedAs[m]
			if !ok {
				actions = []string{m}
			}
			for _, a := range actions {
				if !dynamoGranted["dynamodb:"+a] {
					t.Errorf("dynamo.API calls %s, but the policy does not grant dynamodb:%s", m, a)
				}
			}
		}
		for a := range dynamoGranted {
			if !slices.Contains(dynamoCalls, strings.TrimPrefix(a, "dynamodb:")) {
				t.Errorf("the policy grants %s, which no method of dynamo.API calls", a)
			}
		}
		var verbsCalled []string
		for _, m := range mgmtCalls {
			verb, ok := managementVerbs[m]
			if !ok {
				t.Errorf("mgmt.API calls %s: add its permission to the policy and to managementVerbs", m)
				continue
			}
			verbsCalled = append(verbsCalled, verb)
			if !verbsGranted[verb] {
				t.Errorf("mgmt.API calls %s, but the policy does not grant execute-api:ManageConnections on %s @connections", m, verb)
			}
		}
		for v := range verbsGranted {
			if !slices.Contains(verbsCalled, v) {
				t.Errorf("the policy grants ManageConnections for %s @connections, which no method of mgmt.API calls", v)
			}
		}
	})
}

func TestFunctionEnvironmentAndRuntime(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		fn := props(s.resources("AWS::Lambda::Function")[s.logicalID(cfnOf(s.stack.Compute.Function))])
		api := s.logicalID(cfnOf(s.stack.API.Api))
		vars := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
		want := map[string]any{
			contract.EnvConnectionsTable:       ref(s.logicalID(cfnOf(s.stack.Data.Connections))),
			contract.EnvMessagesTable:          ref(s.logicalID(cfnOf(s.stack.Data.Messages))),
			contract.EnvFanoutPoolSize:         fmt.Sprint(s.cfg.FanoutPoolSize),
			contract.EnvMessageRetentionDays:   fmt.Sprint(s.cfg.MessageRetentionDays),
			contract.EnvRateLimitMessages:      fmt.Sprint(s.cfg.RateLimitMessages),
			contract.EnvRateLimitWindowSeconds: fmt.Sprint(s.cfg.RateLimitWindowSeconds),
			contract.EnvMaxDevices:             fmt.Sprint(s.cfg.MaxDevicesPerAccount),
			contract.EnvMaxConnectsPerMinute:   fmt.Sprint(s.cfg.MaxConnectsPerMinute),
			contract.EnvManagementEndpoint: map[string]any{"Fn::Join": []any{"", []any{"https://", ref(api), ".execute-api.",
				ref("AWS::Region"), ".", ref("AWS::URLSuffix"), "/" + s.cfg.StageName}}},
		}
		maps.Copy(want, s.wantAuthEnvironment()) // auth_test.go
		if !reflect.DeepEqual(asJSON(vars), asJSON(want)) {
			t.Errorf("environment:\n got %s\nwant %s", asJSON(vars), asJSON(want))
		}
		checks := map[string]any{
			"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Handler": "bootstrap",
			"MemorySize": float64(memoryMB), "Timeout": float64(timeoutSeconds),
			"TracingConfig": map[string]any{"Mode": "Active"},
			"LoggingConfig": map[string]any{"LogFormat": "JSON", "LogGroup": ref(s.logicalID(cfnOf(s.stack.Compute.LogGroup)))},
		}
		for k, v := range checks {
			if !sameJSON(fn[k], v) {
				t.Errorf("%s = %s, want %s", k, asJSON(fn[k]), asJSON(v))
			}
		}
		if timeoutSeconds >= 29 {
			t.Error("the timeout must stay under API Gateway's 29 s integration timeout")
		}
		if _, reserved := fn["ReservedConcurrentExecutions"]; reserved != (s.cfg.ReservedConcurrency > 0) {
			t.Errorf("reserved concurrency set = %v, config %d", reserved, s.cfg.ReservedConcurrency)
		}
		for _, lg := range s.resources("AWS::Logs::LogGroup") {
			if props(lg)["RetentionInDays"] != float64(s.cfg.LogRetentionDays) {
				t.Errorf("log group retention %v, want %d", props(lg)["RetentionInDays"], s.cfg.LogRetentionDays)
			}
		}
	})
}

// TestTablesFollowContractAndEnvironment: key schema from contract; TTL
// always; PITR, deletion protection and removal policy per environment.
func TestTablesFollowContractAndEnvironment(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		for _, spec := range s.stack.Data.Specs {
			r := s.resources("AWS::DynamoDB::Table")[s.logicalID(cfnOf(spec.Table))]
			p, c := props(r), spec.Contract
			keys := []any{map[string]any{"AttributeName": c.PartitionKey, "KeyType": "HASH"}}
			if c.SortKey != "" {
				keys = append(keys, map[string]any{"AttributeName": c.SortKey, "KeyType": "RANGE"})
			}
			if !sameJSON(p["KeySchema"], keys) {
				t.Errorf("%s keys %s", c.ID, asJSON(p["KeySchema"]))
			}
			for _, a := range p["AttributeDefinitions"].([]any) {
				if a.(map[string]any)["AttributeType"] != "S" {
					t.Errorf("%s: attribute %v is not a string", c.ID, a)
				}
			}
			want := map[string]any{
				"BillingMode":                      "PAY_PER_REQUEST",
				"TimeToLiveSpecification":          map[string]any{"AttributeName": c.TTLAttribute, "Enabled": true},
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": s.cfg.PointInTimeRecovery},
				"DeletionProtectionEnabled":        s.cfg.DeletionProtection,
			}
			for k, v := range want {
				if !sameJSON(p[k], v) {
					t.Errorf("%s %s = %s, want %s", c.ID, k, asJSON(p[k]), asJSON(v))
				}
			}
			deletion, replace := "Delete", "Delete"
			if s.cfg.Retain() {
				deletion, replace = "RetainExceptOnCreate", "Retain"
			}
			if r["DeletionPolicy"] != deletion || r["UpdateReplacePolicy"] != replace {
				t.Errorf("%s DeletionPolicy %v, UpdateReplacePolicy %v, want %s, %s", c.ID, r["DeletionPolicy"], r["UpdateReplacePolicy"], deletion, replace)
			}
			var gsis []any
			for _, ix := range c.Indexes {
				gsis = append(gsis, map[string]any{
					"IndexName":  ix.Name,
					"KeySchema":  []any{map[string]any{"AttributeName": ix.PartitionKey, "KeyType": "HASH"}, map[string]any{"AttributeName": ix.SortKey, "KeyType": "RANGE"}},
					"Projection": map[string]any{"NonKeyAttributes": toAny(ix.NonKeyAttributes), "ProjectionType": "INCLUDE"},
				})
			}
			if !sameJSON(p["GlobalSecondaryIndexes"], gsis) && !(gsis == nil && p["GlobalSecondaryIndexes"] == nil) {
				t.Errorf("%s indexes %s, want %s", c.ID, asJSON(p["GlobalSecondaryIndexes"]), asJSON(gsis))
			}
		}
	})
}

// TestLogGroupsAndKeysFollowRemovalPolicy: every log group and KMS key is
// deleted with a dev stack and retained by a prod one, on replacement too,
// except when the operation that created it rolls back.
func TestLogGroupsAndKeysFollowRemovalPolicy(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		wantDeletion := map[string]string{"dev": "Delete", "prod": "RetainExceptOnCreate"}[s.cfg.Env]
		wantReplace := map[string]string{"dev": "Delete", "prod": "Retain"}[s.cfg.Env]
		if wantDeletion == "" {
			t.Fatalf("no expectation for environment %s", s.cfg.Env)
		}
		for typ, n := range map[string]int{"AWS::Logs::LogGroup": 2, "AWS::KMS::Key": 1} {
			rs := s.resources(typ)
			if len(rs) != n {
				t.Errorf("%d %s resources, want %d", len(rs), typ, n)
			}
			for id, r := range rs {
				if r["DeletionPolicy"] != wantDeletion || r["UpdateReplacePolicy"] != wantReplace {
					t.Errorf("%s (%s): DeletionPolicy %v, UpdateReplacePolicy %v, want %s, %s",
						id, typ, r["DeletionPolicy"], r["UpdateReplacePolicy"], wantDeletion, wantReplace)
				}
			}
		}
	})
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// TestAlarmsNotifyTheTopic: the alarms the issue asks for, each notifying
// the encrypted, TLS-only topic.
func TestAlarmsNotifyTheTopic(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		topic := s.logicalID(cfnOf(s.stack.Observability.Topic))
		var metrics []string
		for id, a := range s.resources("AWS::CloudWatch::Alarm") {
			p := props(a)
			if !sameJSON(p["AlarmActions"], []any{ref(topic)}) {
				t.Errorf("alarm %s actions %v", id, p["AlarmActions"])
			}
			if name, ok := p["MetricName"].(string); ok {
				metrics = append(metrics, name)
			} else {
				metrics = append(metrics, "expression")
			}
		}
		sort.Strings(metrics)
		want := []string{"Duration", "Errors", "ExecutionError", contract.MetricFailedDeliveries, "IntegrationError",
			contract.MetricInternalErrors, "Throttles", "expression", "expression", "expression", "expression",
			"5xxErrors"} // the page's hosting (Amplify)
		if s.cfg.SignIn() {
			want = append(want, "expression") // AuthFailures, summed over its reasons (auth_test.go)
		}
		sort.Strings(want)
		if !slices.Equal(metrics, want) {
			t.Errorf("alarmed metrics %v, want %v", metrics, want)
		}
		for _, name := range []string{contract.MetricFailedDeliveries, contract.MetricInternalErrors} {
			check(t, func() {
				s.template.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
					"MetricName": name, "Namespace": contract.MetricNamespace,
					"Dimensions": []any{map[string]any{"Name": contract.MetricDimensionStage, "Value": s.cfg.StageName}},
				})
			})
		}
		check(t, func() {
			s.template.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
				"MetricName": "Duration", "ExtendedStatistic": "p99", "Threshold": 0.8 * timeoutSeconds * 1000,
			})
		})
		check(t, func() {
			s.template.HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{"KmsMasterKeyId": assertions.Match_AnyValue()})
		})
		// The topic's own policy replaces SNS's default one, so besides the
		// Deny without TLS it must allow this account's alarms to publish.
		policies := s.resources("AWS::SNS::TopicPolicy")
		if len(policies) != 1 {
			t.Errorf("%d topic policies, want 1", len(policies))
		}
		for id, p := range policies {
			if !sameJSON(props(p)["Topics"], []any{ref(topic)}) {
				t.Errorf("topic policy %s applies to %v", id, props(p)["Topics"])
			}
			got := props(p)["PolicyDocument"].(map[string]any)["Statement"]
			want := []any{
				map[string]any{"Sid": "AllowPublishThroughSSLOnly", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
					"Resource": ref(topic), "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}},
				map[string]any{"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
					"Action": "sns:Publish", "Resource": ref(topic), "Condition": map[string]any{
						"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")},
						"ArnLike": map[string]any{"aws:SourceArn": map[string]any{"Fn::Join": []any{"", []any{
							"arn:", ref("AWS::Partition"), ":cloudwatch:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":alarm:*"}}}},
					}},
			}
			if !sameJSON(got, want) {
				t.Errorf("topic policy statements:\n got %s\nwant %s", asJSON(got), asJSON(want))
			}
		}
		check(t, func() {
			s.template.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
		})
		subs := s.resources("AWS::SNS::Subscription")
		if s.cfg.AlarmEmail == "" && len(subs) != 0 || s.cfg.AlarmEmail != "" && len(subs) != 1 {
			t.Errorf("%d subscriptions for alarm e-mail %q", len(subs), s.cfg.AlarmEmail)
		}
		for _, sub := range subs {
			if props(sub)["Endpoint"] != s.cfg.AlarmEmail || props(sub)["Protocol"] != "email" {
				t.Errorf("subscription %v", props(sub))
			}
		}
	})
}

// TestDashboardShowsEveryMetric: API, Lambda, DynamoDB and all EMF metrics.
func TestDashboardShowsEveryMetric(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		body := asJSON(props(s.resources("AWS::CloudWatch::Dashboard")[s.logicalID(cfnOf(s.stack.Observability.Dashboard))])["DashboardBody"])
		for _, m := range []string{contract.MetricMessagesAccepted, contract.MetricDeliveries, contract.MetricFailedDeliveries,
			contract.MetricStaleRemoved, contract.MetricFanoutSize, contract.MetricFanoutDuration, contract.MetricInternalErrors,
			"ConnectCount", "MessageCount", "IntegrationError", "ClientError", "ExecutionError", "IntegrationLatency",
			"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions",
			"ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits", "ThrottledRequests", "SystemErrors", "SuccessfulRequestLatency"} {
			if !strings.Contains(body, `\"`+m+`\"`) {
				t.Errorf("dashboard lacks %s", m)
			}
		}
		for _, r := range contract.Routes() {
			want := fmt.Sprintf(`[\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",\"%s\"`, contract.MetricNamespace, contract.MetricMessagesAccepted,
				contract.MetricDimensionRoute, r.Key, contract.MetricDimensionStage, s.cfg.StageName)
			alt := fmt.Sprintf(`[\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",\"%s\"`, contract.MetricNamespace, contract.MetricMessagesAccepted,
				contract.MetricDimensionStage, s.cfg.StageName, contract.MetricDimensionRoute, r.Key)
			if !strings.Contains(body, want) && !strings.Contains(body, alt) {
				t.Errorf("dashboard lacks %s for route %s with Stage and Route", contract.MetricMessagesAccepted, r.Key)
			}
		}
	})
}

// TestStageLogsAndThrottles: access logs, throttling from config, and the
// account-level CloudWatch role created before the stage when configured.
func TestStageLogsAndThrottles(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		stage := s.resources("AWS::ApiGatewayV2::Stage")[s.logicalID(cfnOf(s.stack.API.Stage))]
		p := props(stage)
		if !sameJSON(p["DefaultRouteSettings"], map[string]any{"ThrottlingBurstLimit": s.cfg.ThrottleBurstLimit, "ThrottlingRateLimit": s.cfg.ThrottleRateLimit}) {
			t.Errorf("throttling %s", asJSON(p["DefaultRouteSettings"]))
		}
		dest := p["AccessLogSettings"].(map[string]any)["DestinationArn"]
		if !sameJSON(dest, arnOf(s.logicalID(cfnOf(s.stack.API.AccessLog)))) {
			t.Errorf("access logs go to %v", dest)
		}
		var format map[string]any
		if err := json.Unmarshal([]byte(p["AccessLogSettings"].(map[string]any)["Format"].(string)), &format); err != nil {
			t.Errorf("access log format is not JSON: %v", err)
		}
		accounts := s.resources("AWS::ApiGateway::Account")
		if !s.cfg.ManageAPIGatewayAccountRole {
			if len(accounts) != 0 {
				t.Error("account role created although not configured")
			}
			return
		}
		if len(accounts) != 1 {
			t.Fatalf("%d API Gateway account resources", len(accounts))
		}
		for id := range accounts {
			if !slices.Contains(toStrings(stage["DependsOn"]), id) {
				t.Errorf("stage does not depend on %s: %v", id, stage["DependsOn"])
			}
		}
		check(t, func() {
			s.template.HasResource(jsii.String("AWS::IAM::Role"), map[string]any{
				"DeletionPolicy": "Retain",
				"Properties": map[string]any{"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
					"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "apigateway.amazonaws.com"}}}}},
			})
		})
	})
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// TestAmplifyTokenIsADynamicReference: the token is resolved by
// CloudFormation at deploy time and never appears in the template.
func TestAmplifyTokenIsADynamicReference(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		app := props(s.resources("AWS::Amplify::App")[s.logicalID(s.stack.Hosting.App)])
		want := "{{resolve:secretsmanager:" + s.cfg.GitHubTokenSecretName + ":SecretString:::}}"
		if app["AccessToken"] != want {
			t.Errorf("AccessToken = %v, want %s", app["AccessToken"], want)
		}
		if n := strings.Count(s.raw, "{{resolve:"); n != 1 {
			t.Errorf("%d dynamic references, want just the token", n)
		}
		for _, secret := range []string{"ghp_", "github_pat_", "OauthToken"} {
			if strings.Contains(s.raw, secret) {
				t.Errorf("template contains %q", secret)
			}
		}
		if app["Repository"] != s.cfg.AmplifyRepository || !strings.Contains(app["BuildSpec"].(string), "appRoot: frontend") {
			t.Errorf("app %v", app)
		}
		branch := props(s.resources("AWS::Amplify::Branch")[s.logicalID(s.stack.Hosting.Branch)])
		if branch["BranchName"] != s.cfg.AmplifyBranch || branch["EnableAutoBuild"] != true {
			t.Errorf("branch %v", branch)
		}
		env := asJSON(branch["EnvironmentVariables"])
		if !strings.Contains(env, `"Name":"`+contract.EnvFrontendWSURL+`","Value":{"Fn::Join":["",["wss://"`) {
			t.Errorf("branch environment %s lacks the stage's wss URL", env)
		}
	})
}

// TestSPARewriteLeavesFilesAlone evaluates the rewrite rule as Amplify does
// (a JavaScript regular expression).
func TestSPARewriteLeavesFilesAlone(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required (the CDK runs on it too)")
	}
	re := strings.TrimSuffix(strings.TrimPrefix(spaRewrite, "</"), "/>")
	script := `const re = new RegExp(process.argv[1]); for (const p of process.argv.slice(2)) console.log(p, re.test(p))`
	paths := []string{"/", "/room/lobby", "/config.json", "/assets/index-abc123.js", "/assets/index.css", "/favicon.ico"}
	out, err := exec.Command(node, append([]string{"-e", script, re}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	want := "/ true\n/room/lobby true\n/config.json false\n/assets/index-abc123.js false\n/assets/index.css false\n/favicon.ico false\n"
	if string(out) != want {
		t.Errorf("rewritten paths:\n%s\nwant\n%s", out, want)
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

// TestTableAlarmsCoverEveryOperationTheHandlerCalls: the throttle and
// system-error alarms watch each operation the handler makes, including the
// Query of the room index behind every broadcast.
func TestTableAlarmsCoverEveryOperationTheHandlerCalls(t *testing.T) {
	want := map[string][]string{
		contract.Connections.ID: {"DeleteItem", "GetItem", "PutItem", "Query", "TransactWriteItems", "UpdateItem"},
		contract.Messages.ID:    {"PutItem", "Query", "TransactWriteItems", "UpdateItem"},
	}
	each(t, func(t *testing.T, s *synthesized) {
		found := 0
		for id, a := range s.resources("AWS::CloudWatch::Alarm") {
			for table, ops := range want {
				if !strings.HasPrefix(id, table+"Throttles") && !strings.HasPrefix(id, table+"SystemErrors") {
					continue
				}
				found++
				var got []string
				for _, m := range props(a)["Metrics"].([]any) {
					stat, ok := m.(map[string]any)["MetricStat"].(map[string]any)
					if !ok {
						continue
					}
					for _, d := range stat["Metric"].(map[string]any)["Dimensions"].([]any) {
						if d := d.(map[string]any); d["Name"] == "Operation" {
							got = append(got, d["Value"].(string))
						}
					}
				}
				sort.Strings(got)
				if !slices.Equal(got, ops) {
					t.Errorf("alarm %s watches %v, want %v", id, got, ops)
				}
			}
		}
		if found != 4 {
			t.Errorf("found %d table alarms, want 4", found)
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
