// Observability: the environment's dashboard (dashboard.go), its alarms and
// the encrypted, TLS-only SNS topic they notify (alarms.go), built from the
// one definition in package observability, and the metrics both draw on.
package stack

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/observability"
)

// period is the definition's period, as CDK takes it.
var period = awscdk.Duration_Seconds(jsii.Number(observability.Period.Seconds()))

// Observability is the dashboard, the alarms and their topic, built from
// one definition (package observability), which the local stack reads too.
type Observability struct {
	Definition observability.Definition
	Dashboard  awscloudwatch.Dashboard
	Topic      awssns.Topic
	Alarms     []awscloudwatch.Alarm
}

// monitored is what the dashboard and the alarms watch.
type monitored struct {
	cfg     Config
	compute *Compute
	data    *Data
	api     *API
	hosting *Hosting
	settle  *Settle
}

func newObservability(scope constructs.Construct, m monitored) *Observability {
	def := observability.Define(observability.Env{Stage: m.cfg.StageName, SignIn: m.cfg.SignIn(), FunctionTimeout: contract.FunctionTimeout})
	o := &Observability{Definition: def, Topic: newAlarmTopic(scope, m.cfg)}
	o.Alarms = newAlarms(scope, m, def.Alarms, o.Topic)
	o.Dashboard = newDashboard(scope, m, def.Rows)
	return o
}

// stat is the statistic s over the period every graph and alarm uses.
func stat(s string) *awscloudwatch.MetricOptions {
	return &awscloudwatch.MetricOptions{Statistic: jsii.String(s), Period: period}
}

// metric binds a metric of the definition to this stack's resources: the
// stage, the function, a table, the Amplify app.
func (m monitored) metric(om observability.Metric) awscloudwatch.IMetric {
	if om.Math != nil {
		return m.math(om)
	}
	opts := stat(om.Stat)
	if om.Label != "" {
		opts.Label = jsii.String(om.Label)
	}
	name := jsii.String(om.Name)
	switch om.Namespace {
	case observability.NamespaceAPI:
		return m.api.Stage.Metric(name, opts)
	case observability.NamespaceLambda:
		return m.compute.Function.Metric(name, opts)
	case observability.NamespaceDynamoDB:
		return m.tableMetric(om, opts)
	case observability.NamespaceChat:
		if om.Sum != nil && om.Sum.Dimension == contract.MetricDimensionReason && om.Name == contract.MetricAuthFailures {
			return withLabel(authFailures(m.cfg, om.Sum.GroupBy), om.Label)
		}
		return emf(m.cfg, om, opts)
	case observability.NamespaceSQS:
		return m.settle.DeadLetters.Metric(name, opts)
	case observability.NamespaceAmplify:
		dims := map[string]*string{observability.DimensionApp: m.hosting.App.AttrAppId()}
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(om.Namespace), MetricName: name,
			DimensionsMap: &dims, Statistic: opts.Statistic, Period: period, Label: opts.Label})
	}
	panic(fmt.Sprintf("observability: no binding for %s", om.Key()))
}

// math is the definition's metric math over its parts, each bound as any
// other metric: the expression deployed is the one the local evaluator
// computes and the tests run under every reading of CloudWatch's rules.
func (m monitored) math(om observability.Metric) awscloudwatch.IMetric {
	if len(om.Math.Parts) > observability.MaxMathMetrics {
		panic(fmt.Sprintf("observability: %s reads %d metrics, CloudWatch allows %d", om.Key(), len(om.Math.Parts), observability.MaxMathMetrics))
	}
	using := make(map[string]awscloudwatch.IMetric, len(om.Math.Parts))
	for _, p := range om.Math.Parts {
		using[p.ID] = m.metric(p.Metric)
	}
	props := &awscloudwatch.MathExpressionProps{Expression: jsii.String(om.Math.Expression), UsingMetrics: &using, Period: period}
	if om.Label != "" {
		props.Label = jsii.String(om.Label)
	}
	return awscloudwatch.NewMathExpression(props)
}

// tableMetric is a table's metric (with its dimensions beyond the table's
// name, such as the operation).
func (m monitored) tableMetric(om observability.Metric, opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	var spec TableSpec
	for _, s := range m.data.Specs {
		if s.Contract.ID == om.Table {
			spec = s
		}
	}
	if spec.Table == nil {
		panic(fmt.Sprintf("observability: %s names table %q, which the stack does not have", om.Key(), om.Table))
	}
	dims := map[string]*string{observability.DimensionTableName: spec.Table.TableName()}
	for k, v := range om.Dims {
		dims[k] = jsii.String(v)
	}
	opts.DimensionsMap = &dims
	return spec.Table.Metric(jsii.String(om.Name), opts)
}

// emf is one of the handler's own metrics for this stage (and route).
func emf(cfg Config, om observability.Metric, opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	dims := map[string]*string{contract.MetricDimensionStage: jsii.String(cfg.StageName)}
	for k, v := range om.Dims {
		dims[k] = jsii.String(v)
	}
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(om.Namespace), MetricName: jsii.String(om.Name),
		DimensionsMap: &dims, Statistic: opts.Statistic, Period: period, Label: opts.Label,
	})
}

func withLabel(metric awscloudwatch.IMetric, label string) awscloudwatch.IMetric {
	if label == "" {
		return metric
	}
	return metric.(awscloudwatch.MathExpression).With(&awscloudwatch.MathExpressionOptions{Label: jsii.String(label)})
}

// authFailures is contract.MetricAuthFailures of this stage summed over
// every reason, or one line per reason: a CloudWatch Metrics Insights query
// over the dimension set the function writes it with (Stage and Reason). An
// alarm on a plain metric reads one exact set of dimensions, so it would
// watch a single reason; the query sums whatever reasons the function adds,
// and a Stage-only set written beside it is not counted twice (SCHEMA
// selects the metrics with exactly these dimensions). Metrics Insights
// queries the last three hours, far more than a 5-minute alarm needs.
func authFailures(cfg Config, byReason bool) awscloudwatch.IMetric {
	q := fmt.Sprintf(`SELECT SUM(%s) FROM SCHEMA("%s", %s, %s) WHERE %s = '%s'`, contract.MetricAuthFailures,
		contract.MetricNamespace, contract.MetricDimensionReason, contract.MetricDimensionStage,
		contract.MetricDimensionStage, cfg.StageName) // stageRe admits no quote
	props := &awscloudwatch.MathExpressionProps{Expression: jsii.String(q), Period: period}
	if byReason {
		props.Expression = jsii.String(q + " GROUP BY " + contract.MetricDimensionReason)
	}
	return awscloudwatch.NewMathExpression(props)
}

// opNames maps CDK's operation enum to DynamoDB's metric dimension value.
var opNames = map[awsdynamodb.Operation]string{
	awsdynamodb.Operation_GET_ITEM: "GetItem", awsdynamodb.Operation_PUT_ITEM: "PutItem",
	awsdynamodb.Operation_UPDATE_ITEM: "UpdateItem", awsdynamodb.Operation_DELETE_ITEM: "DeleteItem",
	awsdynamodb.Operation_QUERY: "Query", awsdynamodb.Operation_TRANSACT_WRITE_ITEMS: "TransactWriteItems",
}

// transactedTables are the tables the handler writes with
// TransactWriteItems (a record in Connections and its room's count shard
// in Messages): no IAM action of its own (its items are authorized as
// PutItem, UpdateItem, DeleteItem), but an operation with metrics of its
// own.
var transactedTables = []string{contract.Connections.ID, contract.Messages.ID}

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
	if slices.Contains(transactedTables, tableID) {
		actions = append(slices.Clone(actions), "dynamodb:TransactWriteItems")
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
