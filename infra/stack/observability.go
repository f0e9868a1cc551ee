// Observability: the environment's dashboard, its alarms and the encrypted,
// TLS-only SNS topic they notify.
package stack

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/contract"
)

var period = awscdk.Duration_Minutes(jsii.Number(5))

// Observability is the dashboard, the alarms and their topic.
type Observability struct {
	Dashboard awscloudwatch.Dashboard
	Topic     awssns.Topic
	Alarms    []awscloudwatch.Alarm
}

type monitored struct {
	cfg     Config
	compute *Compute
	data    *Data
	api     *API
}

func newObservability(scope constructs.Construct, m monitored) *Observability {
	o := &Observability{Topic: newAlarmTopic(scope, m.cfg)}
	fn, stage := m.compute.Function, m.api.Stage
	apiMetric := func(name, stat string) awscloudwatch.IMetric {
		return stage.Metric(jsii.String(name), &awscloudwatch.MetricOptions{Statistic: jsii.String(stat), Period: period})
	}
	own := func(name, stat string) awscloudwatch.IMetric { return emf(m.cfg, name, stat, nil) }
	stat := func(s string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Statistic: jsii.String(s), Period: period}
	}

	alarm := func(id, what string, metric awscloudwatch.IMetric, threshold float64) {
		a := awscloudwatch.NewAlarm(scope, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(m.cfg.StackName() + ": " + what),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(awscloudwatchactions.NewSnsAction(o.Topic))
		o.Alarms = append(o.Alarms, a)
	}
	alarm("LambdaErrors", "the handler failed invocations", fn.MetricErrors(stat("Sum")), 1)
	alarm("LambdaThrottles", "the handler was throttled", fn.MetricThrottles(stat("Sum")), 1)
	alarm("LambdaDurationP99", "p99 duration is above 80% of the timeout", fn.MetricDuration(stat("p99")), 0.8*timeoutSeconds*1000)
	// $connect answers 400 to an invalid room by design, so a few integration
	// errors are normal; five in five minutes are not.
	alarm("ApiIntegrationErrors", "integration errors on the WebSocket API", apiMetric("IntegrationError", "Sum"), 5)
	alarm("ApiExecutionErrors", "execution errors on the WebSocket API", apiMetric("ExecutionError", "Sum"), 1)
	for _, spec := range m.data.Specs {
		ops := operations(spec.Contract.ID)
		alarm(spec.Contract.ID+"Throttles", spec.Contract.ID+" table throttled requests",
			spec.Table.MetricThrottledRequestsForOperations(&awsdynamodb.OperationsMetricOptions{Operations: &ops, Period: period}), 1)
		alarm(spec.Contract.ID+"SystemErrors", spec.Contract.ID+" table system errors",
			spec.Table.MetricSystemErrorsForOperations(&awsdynamodb.SystemErrorsForOperationsMetricOptions{Operations: &ops, Period: period}), 1)
	}
	alarm("FailedDeliveries", "PostToConnection failed for a reason other than 410 Gone", own(contract.MetricFailedDeliveries, "Sum"), 1)
	alarm("InternalErrors", "actions were answered with the internal error", own(contract.MetricInternalErrors, "Sum"), 1)

	var tableRows []*[]awscloudwatch.IWidget
	for _, spec := range m.data.Specs {
		t, ops := spec.Table, operations(spec.Contract.ID)
		var latency []awscloudwatch.IMetric
		for _, op := range ops {
			latency = append(latency, t.MetricSuccessfulRequestLatency(&awscloudwatch.MetricOptions{
				DimensionsMap: &map[string]*string{"TableName": t.TableName(), "Operation": jsii.String(opNames[op])},
				Statistic:     jsii.String("p99"), Period: period, Label: jsii.String(opNames[op] + " p99"),
			}))
		}
		name := spec.Contract.ID
		tableRows = append(tableRows, row(
			graph(name+" consumed capacity", t.MetricConsumedReadCapacityUnits(stat("Sum")), t.MetricConsumedWriteCapacityUnits(stat("Sum"))),
			// Two graphs: both math expressions name their parts by operation.
			graph(name+" throttled requests", t.MetricThrottledRequestsForOperations(&awsdynamodb.OperationsMetricOptions{Operations: &ops, Period: period})),
			graph(name+" system errors", t.MetricSystemErrorsForOperations(&awsdynamodb.SystemErrorsForOperationsMetricOptions{Operations: &ops, Period: period})),
			graph(name+" latency (ms)", latency...),
		))
	}
	// The handler writes MessagesAccepted with Stage and Route only: one line per route.
	var accepted []awscloudwatch.IMetric
	for _, r := range contract.Routes() {
		accepted = append(accepted, emf(m.cfg, contract.MetricMessagesAccepted, "Sum", &r))
	}
	rows := []*[]awscloudwatch.IWidget{
		row(title("WebSocket API (stage " + m.cfg.StageName + ")")),
		row(graph("Connections and messages", apiMetric("ConnectCount", "Sum"), apiMetric("MessageCount", "Sum")),
			graph("Errors", apiMetric("IntegrationError", "Sum"), apiMetric("ClientError", "Sum"), apiMetric("ExecutionError", "Sum")),
			graph("Integration latency (ms)", apiMetric("IntegrationLatency", "p50"), apiMetric("IntegrationLatency", "p99"))),
		row(title("Lambda handler")),
		row(graph("Invocations, errors, throttles", fn.MetricInvocations(stat("Sum")), fn.MetricErrors(stat("Sum")), fn.MetricThrottles(stat("Sum"))),
			graph("Duration (ms)", fn.MetricDuration(stat("p50")), fn.MetricDuration(stat("p99"))),
			graph("Concurrent executions", fn.Metric(jsii.String("ConcurrentExecutions"), stat("Maximum")))),
		row(title("DynamoDB"))}
	rows = append(rows, tableRows...)
	rows = append(rows, row(title("Chat (the handler's own metrics, namespace "+contract.MetricNamespace+")")),
		row(graph("Messages accepted per route", accepted...),
			graph("Deliveries", own(contract.MetricDeliveries, "Sum"), own(contract.MetricFailedDeliveries, "Sum"),
				own(contract.MetricStaleRemoved, "Sum"), own(contract.MetricInternalErrors, "Sum")),
			graph("Fan-out size", own(contract.MetricFanoutSize, "Average"), own(contract.MetricFanoutSize, "Maximum")),
			graph("Fan-out duration (ms)", own(contract.MetricFanoutDuration, "p50"), own(contract.MetricFanoutDuration, "p99"))))
	o.Dashboard = awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(m.cfg.StackName()),
		Widgets:       &rows,
	})
	return o
}

// emf is one of the handler's own metrics for this stage (and route).
func emf(cfg Config, name, stat string, route *contract.Route) awscloudwatch.IMetric {
	dims := map[string]*string{contract.MetricDimensionStage: jsii.String(cfg.StageName)}
	props := &awscloudwatch.MetricProps{
		Namespace: jsii.String(contract.MetricNamespace), MetricName: jsii.String(name),
		DimensionsMap: &dims, Statistic: jsii.String(stat), Period: period,
	}
	if route != nil {
		// Labelled by route on the dashboard (a label would turn an alarm's
		// metric into a metric-math form, so the others have none).
		dims[contract.MetricDimensionRoute] = jsii.String(route.Key)
		props.Label = jsii.String(route.Key)
	}
	return awscloudwatch.NewMetric(props)
}

// opNames maps CDK's operation enum to DynamoDB's metric dimension value.
var opNames = map[awsdynamodb.Operation]string{
	awsdynamodb.Operation_GET_ITEM: "GetItem", awsdynamodb.Operation_PUT_ITEM: "PutItem",
	awsdynamodb.Operation_UPDATE_ITEM: "UpdateItem", awsdynamodb.Operation_DELETE_ITEM: "DeleteItem",
	awsdynamodb.Operation_QUERY: "Query",
}

// operations are the DynamoDB operations the handler calls on a table and
// its indexes (CloudWatch reports an index's Query under the table).
func operations(tableID string) []awsdynamodb.Operation {
	actions := tableActions[tableID]
	for _, t := range contract.Tables() {
		if t.ID == tableID && len(t.Indexes) > 0 {
			for _, a := range indexActions {
				if !slices.Contains(actions, a) {
					actions = append(slices.Clone(actions), a)
				}
			}
		}
	}
	var ops []awsdynamodb.Operation
	for _, action := range actions {
		for op, name := range opNames {
			if "dynamodb:"+name == action {
				ops = append(ops, op)
			}
		}
	}
	return ops
}

func row(w ...awscloudwatch.IWidget) *[]awscloudwatch.IWidget { return &w }

func title(s string) awscloudwatch.IWidget {
	return awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{Markdown: jsii.String("## " + s), Width: jsii.Number(24), Height: jsii.Number(1)})
}

func graph(t string, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(t), Left: &metrics, Width: jsii.Number(6), Height: jsii.Number(6)})
}

// newAlarmTopic is the alarms' SNS topic: encrypted with a rotating key that
// CloudWatch may use, refusing requests without TLS, and open to publishing
// by this account's CloudWatch alarms.
func newAlarmTopic(scope constructs.Construct, cfg Config) awssns.Topic {
	key := awskms.NewKey(scope, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
		Description:       jsii.String(cfg.StackName() + " alarm topic encryption"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     removalPolicy(cfg),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
	}), nil)
	topic := awssns.NewTopic(scope, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String(cfg.StackName() + " alarms"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	// EnforceSSL gives the topic a policy of its own (a Deny without TLS),
	// which replaces SNS's default policy: CloudWatch alarms of this account
	// and region are allowed to publish explicitly.
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			"ArnLike": map[string]any{"aws:SourceArn": "arn:" + *awscdk.Aws_PARTITION() + ":cloudwatch:" +
				*awscdk.Aws_REGION() + ":" + *awscdk.Aws_ACCOUNT_ID() + ":alarm:*"},
		},
	}))
	if cfg.AlarmEmail != "" {
		sub := awssns.NewSubscription(scope, jsii.String("AlarmEmail"), &awssns.SubscriptionProps{
			Topic: topic, Protocol: awssns.SubscriptionProtocol_EMAIL, Endpoint: jsii.String(cfg.AlarmEmail),
		})
		ignoreCfnLint(sub, "ES7000", "An e-mail subscription: SNS retries e-mail delivery itself, and an undelivered "+
			"alarm e-mail has no consumer to replay it to; the alarm state stays visible in CloudWatch and on the dashboard.")
	}
	return topic
}
