// Alarms, the dashboard and the stage's logs and throttles.

package stack

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/contract"
)

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
			"5xxErrors",                                                             // the page's hosting (Amplify)
			"ApproximateNumberOfMessagesVisible",                                    // the settle queue's dead letters
			contract.MetricShardInvokeErrors, "AsyncEventsDropped", "AsyncEventAge"} // the fan-out shards
		if s.cfg.SignIn() {
			want = append(want, "expression") // AuthFailures, summed over its reasons (auth_test.go)
			// LambdaErrors less the sign-ups the trigger refused (auth_trigger_test.go)
			want[slices.Index(want, "Errors")] = "expression"
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

// TestTableAlarmsCoverEveryOperationTheHandlerCalls: the throttle and
// system-error alarms watch each operation the handler makes, including the
// Query of the room index behind every broadcast.
func TestTableAlarmsCoverEveryOperationTheHandlerCalls(t *testing.T) {
	want := map[string][]string{
		contract.Connections.ID: {"DeleteItem", "GetItem", "PutItem", "Query", "TransactWriteItems", "UpdateItem"},
		contract.Messages.ID:    {"DeleteItem", "PutItem", "Query", "TransactWriteItems", "UpdateItem"},
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
