// Observability: the environment's dashboard (dashboard.go), its alarms and
// the encrypted, TLS-only SNS topic they notify (alarms.go), and the metrics
// both draw on.
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
)

var period = awscdk.Duration_Minutes(jsii.Number(5))

// Observability is the dashboard, the alarms and their topic.
type Observability struct {
	Dashboard awscloudwatch.Dashboard
	Topic     awssns.Topic
	Alarms    []awscloudwatch.Alarm
}

// monitored is what the dashboard and the alarms watch.
type monitored struct {
	cfg     Config
	compute *Compute
	data    *Data
	api     *API
}

func newObservability(scope constructs.Construct, m monitored) *Observability {
	o := &Observability{Topic: newAlarmTopic(scope, m.cfg)}
	o.Alarms = newAlarms(scope, m, o.Topic)
	o.Dashboard = newDashboard(scope, m)
	return o
}

// stat is the statistic s over the period every graph and alarm uses.
func stat(s string) *awscloudwatch.MetricOptions {
	return &awscloudwatch.MetricOptions{Statistic: jsii.String(s), Period: period}
}

// apiMetric is one of the stage's API Gateway metrics.
func (m monitored) apiMetric(name, s string) awscloudwatch.IMetric {
	return m.api.Stage.Metric(jsii.String(name), stat(s))
}

// own is one of the handler's own metrics, over every route.
func (m monitored) own(name, s string) awscloudwatch.IMetric { return emf(m.cfg, name, s, nil) }

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

// throttled and systemErrors are a table's metric-math sums over the
// operations the handler calls on it.
func throttled(t TableSpec) awscloudwatch.IMetric {
	ops := operations(t.Contract.ID)
	return t.Table.MetricThrottledRequestsForOperations(&awsdynamodb.OperationsMetricOptions{Operations: &ops, Period: period})
}

func systemErrors(t TableSpec) awscloudwatch.IMetric {
	ops := operations(t.Contract.ID)
	return t.Table.MetricSystemErrorsForOperations(&awsdynamodb.SystemErrorsForOperationsMetricOptions{Operations: &ops, Period: period})
}
