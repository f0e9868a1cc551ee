// The function, its six routes and its IAM policy, as the synthesized
// templates have them.

package stack

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/lambda/mgmt"
)

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
			map[string]any{"Sid": "ConnectionsIndex" + contract.RoomIndex, "Effect": "Allow", "Action": "dynamodb:Query",
				"Resource": map[string]any{"Fn::Join": []any{"", []any{arnOf(conn), "/index/" + contract.RoomIndex}}}},
			map[string]any{"Sid": "ConnectionsIndexbyAccount", "Effect": "Allow", "Action": "dynamodb:Query",
				"Resource": map[string]any{"Fn::Join": []any{"", []any{arnOf(conn), "/index/" + contract.AccountIndex}}}},
			map[string]any{"Sid": "MessagesTable", "Effect": "Allow", "Action": []any{"dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}, "Resource": arnOf(msgs)},
			map[string]any{"Sid": "PostToConnection", "Effect": "Allow", "Action": "execute-api:ManageConnections",
				"Resource": map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":execute-api:", ref("AWS::Region"), ":",
					ref("AWS::AccountId"), ":", ref(api), "/" + s.cfg.StageName + "/POST/@connections/*"}}}},
			map[string]any{"Sid": "DeleteConnection", "Effect": "Allow", "Action": "execute-api:ManageConnections",
				"Resource": map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":execute-api:", ref("AWS::Region"), ":",
					ref("AWS::AccountId"), ":", ref(api), "/" + s.cfg.StageName + "/DELETE/@connections/*"}}}},
		}
		if s.cfg.SignIn() {
			want = append(want, map[string]any{"Sid": "ReadSignInSettings", "Effect": "Allow", "Action": "ssm:GetParameter",
				"Resource": map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":ssm:", ref("AWS::Region"), ":",
					ref("AWS::AccountId"), ":parameter" + contract.AuthParameterName(s.cfg.StackName())}}}})
		}
		// The settle queue: send to it, and what its event source mapping
		// needs of the function's role (receive, delete, the queue's
		// attributes), on that queue alone.
		queue := map[string]any{"Fn::GetAtt": []any{s.logicalID(cfnOf(s.stack.Settle.Queue)), "Arn"}}
		want = append(want,
			map[string]any{"Sid": "SendSettle", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue},
			map[string]any{"Sid": "ReceiveSettle", "Effect": "Allow", "Resource": queue,
				"Action": []any{"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}})
		// Fan-out shards: the function may invoke itself, and nothing else.
		want = append(want, map[string]any{"Sid": "InvokeSelf", "Effect": "Allow", "Action": "lambda:InvokeFunction",
			"Resource": arnOf(s.logicalID(cfnOf(s.stack.Compute.Function)))})
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

// handlerStatements are the statements of the policies attached to the
// handler's role.
func handlerStatements(t *testing.T, s *synthesized) []any {
	t.Helper()
	role := s.logicalID(cfnOf(s.stack.Compute.Role))
	self := s.logicalID(cfnOf(s.stack.Compute.InvokeSelf))
	var statements, invokeSelf []any
	found := 0
	for id, p := range s.resources("AWS::IAM::Policy") {
		if sameJSON(props(p)["Roles"], []any{ref(role)}) {
			found++
			st := props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any)
			if id == self {
				invokeSelf = st
			} else {
				statements = st
			}
		}
	}
	if found != 2 || invokeSelf == nil {
		t.Fatalf("%d policies attached to the handler role, want 2 (the role's and InvokeSelf, apart: the function's own ARN in the role's policy would make a cycle)", found)
	}
	return append(statements, invokeSelf...)
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
			contract.EnvSettleQueueURL: ref(s.logicalID(cfnOf(s.stack.Settle.Queue))),
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
