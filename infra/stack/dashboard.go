// Dashboard: one CloudWatch dashboard per environment, a section per part of
// the chat (API, Lambda, DynamoDB, the handler's own metrics), 5-minute periods.
package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/contract"
)

func newDashboard(scope constructs.Construct, m monitored) awscloudwatch.Dashboard {
	fn := m.compute.Function
	rows := []*[]awscloudwatch.IWidget{
		row(title("WebSocket API (stage " + m.cfg.StageName + ")")),
		row(graph("Connections and messages", m.apiMetric("ConnectCount", "Sum"), m.apiMetric("MessageCount", "Sum")),
			graph("Errors", m.apiMetric("IntegrationError", "Sum"), m.apiMetric("ClientError", "Sum"), m.apiMetric("ExecutionError", "Sum")),
			graph("Integration latency (ms)", m.apiMetric("IntegrationLatency", "p50"), m.apiMetric("IntegrationLatency", "p99"))),
		row(title("Lambda handler")),
		row(graph("Invocations, errors, throttles", fn.MetricInvocations(stat("Sum")), fn.MetricErrors(stat("Sum")), fn.MetricThrottles(stat("Sum"))),
			graph("Duration (ms)", fn.MetricDuration(stat("p50")), fn.MetricDuration(stat("p99"))),
			graph("Concurrent executions", fn.Metric(jsii.String("ConcurrentExecutions"), stat("Maximum")))),
		row(title("DynamoDB")),
	}
	for _, spec := range m.data.Specs {
		rows = append(rows, tableRow(spec))
	}
	rows = append(rows, row(title("Chat (the handler's own metrics, namespace "+contract.MetricNamespace+")")), chatRow(m))
	if m.cfg.SignIn() {
		rows = append(rows, signInRow(m))
	}
	return awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(m.cfg.StackName()),
		Widgets:       &rows,
	})
}

// tableRow is one table's capacity, throttles, system errors and latency.
func tableRow(spec TableSpec) *[]awscloudwatch.IWidget {
	t, name := spec.Table, spec.Contract.ID
	var latency []awscloudwatch.IMetric
	for _, op := range operations(name) {
		latency = append(latency, t.MetricSuccessfulRequestLatency(&awscloudwatch.MetricOptions{
			DimensionsMap: &map[string]*string{"TableName": t.TableName(), "Operation": jsii.String(opNames[op])},
			Statistic:     jsii.String("p99"), Period: period, Label: jsii.String(opNames[op] + " p99"),
		}))
	}
	return row(
		graph(name+" consumed capacity", t.MetricConsumedReadCapacityUnits(stat("Sum")), t.MetricConsumedWriteCapacityUnits(stat("Sum"))),
		// Two graphs: both math expressions name their parts by operation.
		graph(name+" throttled requests", throttled(spec)),
		graph(name+" system errors", systemErrors(spec)),
		graph(name+" latency (ms)", latency...),
	)
}

// chatRow is the handler's own metrics: actions per route, what became of
// every recipient of a fan-out, fan-out size and duration.
func chatRow(m monitored) *[]awscloudwatch.IWidget {
	// The handler writes MessagesAccepted with Stage and Route only: one line per route.
	var accepted []awscloudwatch.IMetric
	for _, r := range contract.Routes() {
		accepted = append(accepted, emf(m.cfg, contract.MetricMessagesAccepted, "Sum", &r))
	}
	accepted = append(accepted, labelled(m.own(contract.MetricInternalErrors, "Sum"), "internal errors"))
	// Every recipient is counted in exactly one outcome, so the outcomes add
	// up to the recipients line (contract.MetricFanoutSize).
	recipients := []awscloudwatch.IMetric{labelled(m.own(contract.MetricFanoutSize, "Sum"), "recipients (sum of FanoutSize)")}
	for _, o := range []struct{ metric, label string }{
		{contract.MetricDeliveries, "delivered"},
		{contract.MetricFailedDeliveries, "failed"},
		{contract.MetricStaleRemoved, "410: stale, removed"},
		{contract.MetricGoneWhileConnecting, "410: still connecting, kept"},
		{contract.MetricGoneAlreadyRemoved, "410: already removed"},
		{contract.MetricStaleLeft, "410: stale, left for later"},
	} {
		recipients = append(recipients, labelled(m.own(o.metric, "Sum"), o.label))
	}
	return row(graph("Actions accepted per route, internal errors", accepted...),
		graph("Recipients and what became of them", recipients...),
		graph("Fan-out size", m.own(contract.MetricFanoutSize, "Average"), m.own(contract.MetricFanoutSize, "Maximum")),
		graph("Fan-out duration (ms)", m.own(contract.MetricFanoutDuration, "p50"), m.own(contract.MetricFanoutDuration, "p99")))
}

// signInRow is the connections the $connect authorizer refused, in all and
// per reason, beside the connections made and the stage's client errors
// (which count the connections refused without a token, the function never
// asked).
func signInRow(m monitored) *[]awscloudwatch.IWidget {
	total := authFailures(m.cfg, false).(awscloudwatch.MathExpression).With(&awscloudwatch.MathExpressionOptions{
		Label: jsii.String("refused, all reasons (alarm at " + fmt.Sprint(authFailuresThreshold) + ")"),
	})
	return row(graph("Sign-in: connections refused ("+contract.MetricAuthFailures+")", total, authFailures(m.cfg, true)),
		graph("Sign-in: connections made, client errors", m.apiMetric("ConnectCount", "Sum"), m.apiMetric("ClientError", "Sum")))
}

// labelled is a dashboard line's metric with a label of its own (alarms
// take theirs unlabelled: see emf).
func labelled(metric awscloudwatch.IMetric, label string) awscloudwatch.IMetric {
	return metric.(awscloudwatch.Metric).With(&awscloudwatch.MetricOptions{Label: jsii.String(label)})
}

func row(w ...awscloudwatch.IWidget) *[]awscloudwatch.IWidget { return &w }

func title(s string) awscloudwatch.IWidget {
	return awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{Markdown: jsii.String("## " + s), Width: jsii.Number(24), Height: jsii.Number(1)})
}

func graph(t string, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(t), Left: &metrics, Width: jsii.Number(6), Height: jsii.Number(6)})
}
