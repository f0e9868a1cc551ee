// Package observability defines the environment's CloudWatch dashboard and
// alarms once, as plain Go data: which metrics each widget draws, with which
// statistic, period and layout, and which metric each alarm watches, with its
// threshold, comparison, evaluation periods, datapoints to alarm and
// missing-data treatment. The CDK stack (infra/stack) turns the definition
// into AWS::CloudWatch::Dashboard and AWS::CloudWatch::Alarm resources; the
// local stack (local/metrics) draws the same widgets from the metrics it
// collects and evaluates the same alarms by CloudWatch's rules. Neither
// retypes a metric name, a threshold or a title, so the two cannot drift.
//
// A Metric names its resource only by kind (the stage, the function, a
// table, the Amplify app): each side binds the kind to its own resource.
package observability

import (
	"time"

	"github.com/groupchat/groupchat/contract"
)

// Namespaces of the metrics the dashboard draws.
const (
	NamespaceAPI      = "AWS/ApiGateway"
	NamespaceLambda   = "AWS/Lambda"
	NamespaceDynamoDB = "AWS/DynamoDB"
	NamespaceAmplify  = "AWS/AmplifyHosting"
	NamespaceSQS      = "AWS/SQS"                // the settle queue's dead-letter queue
	NamespaceChat     = contract.MetricNamespace // the handler's own EMF metrics
)

// Dimension names beyond the handler's own (contract.MetricDimension*).
const (
	DimensionOperation = "Operation" // AWS/DynamoDB: the API call
	DimensionTableName = "TableName" // AWS/DynamoDB: bound to the table's name
	DimensionApp       = "App"       // AWS/AmplifyHosting: bound to the app's id
)

// Period is the period of every graph and alarm on AWS. The local stack may
// run its evaluator with a shorter one (the thresholds stay as defined).
const Period = 5 * time.Minute

// Statistics the definition uses (CloudWatch's names).
const (
	Sum         = "Sum"
	Average     = "Average"
	Minimum     = "Minimum"
	Maximum     = "Maximum"
	SampleCount = "SampleCount"
	P50         = "p50"
	P99         = "p99"
)

// Comparison is an alarm's comparison operator (CloudWatch's names).
type Comparison string

const (
	GreaterThanOrEqual Comparison = "GreaterThanOrEqualToThreshold"
	GreaterThan        Comparison = "GreaterThanThreshold"
	LessThan           Comparison = "LessThanThreshold"
	LessThanOrEqual    Comparison = "LessThanOrEqualToThreshold"
)

// Breaches reports whether value breaches threshold under c.
func (c Comparison) Breaches(value, threshold float64) bool {
	switch c {
	case GreaterThanOrEqual:
		return value >= threshold
	case GreaterThan:
		return value > threshold
	case LessThan:
		return value < threshold
	case LessThanOrEqual:
		return value <= threshold
	}
	return false
}

// MissingData is an alarm's treatment of missing datapoints (CloudWatch's
// names).
type MissingData string

const (
	NotBreaching MissingData = "notBreaching"
	Breaching    MissingData = "breaching"
	Ignore       MissingData = "ignore"
	Missing      MissingData = "missing"
)

// SumOver makes a Metric the sum of every value one dimension has (a
// Metrics Insights query, so a value the function adds later is counted
// without a change here).
type SumOver struct {
	Dimension string
	// GroupBy draws one line per value instead of their sum (Metrics
	// Insights' GROUP BY).
	GroupBy bool
}

// MaxMathMetrics is CloudWatch's limit on the metrics one metric-math alarm
// may read (a hard limit).
const MaxMathMetrics = 10

// Math makes a Metric a CloudWatch metric-math expression over named
// metrics, as the stack deploys it and the local evaluator computes it.
type Math struct {
	// Expression is the metric math, naming the parts by their IDs.
	Expression string
	// Parts are the metrics the expression reads, in order.
	Parts []Part
}

// Part is one metric of a Math expression.
type Part struct {
	// ID is the part's name in the expression (CloudWatch: a lowercase
	// letter first, then letters, digits and underscores).
	ID     string
	Metric Metric
}

// Metric is one line of a graph, or an alarm's metric.
type Metric struct {
	Namespace string
	Name      string
	// Stat is the statistic (Sum, Average, Maximum, p99, …).
	Stat string
	// Dims are the dimensions beyond the resource's own (the stage, the
	// function, the table, the app), which each side binds itself.
	Dims map[string]string
	// Table is the contract table ID of an AWS/DynamoDB metric.
	Table string
	// Sum, when set, makes the metric a sum over one dimension.
	Sum *SumOver
	// Math, when set, makes the metric an expression over other metrics
	// (Namespace, Name and Stat then say what its parts are).
	Math *Math
	// Label is the line's legend on the dashboard ("" is CloudWatch's
	// default). Alarm metrics other than Math have none: a label would
	// turn an alarm's metric into metric math.
	Label string
}

// Key names the metric's series without its statistic and label: two
// Metrics with one Key are one series drawn with two statistics.
func (m Metric) Key() string {
	k := m.Namespace + "/" + m.Name
	if m.Table != "" {
		k += " " + DimensionTableName + "=" + m.Table
	}
	for _, d := range sortedKeys(m.Dims) {
		k += " " + d + "=" + m.Dims[d]
	}
	if m.Sum != nil {
		k += " sum over " + m.Sum.Dimension
		if m.Sum.GroupBy {
			k += " by"
		}
	}
	if m.Math != nil {
		k += " = " + m.Math.Expression
	}
	return k
}

// Reads returns the metrics m reads: its Math parts, or m itself.
func (m Metric) Reads() []Metric {
	if m.Math == nil {
		return []Metric{m}
	}
	var out []Metric
	for _, p := range m.Math.Parts {
		out = append(out, p.Metric.Reads()...)
	}
	return out
}

// ReadsNamespace reports whether any metric m reads is in namespace ns.
func (m Metric) ReadsNamespace(ns string) bool {
	for _, r := range m.Reads() {
		if r.Namespace == ns {
			return true
		}
	}
	return false
}

// Widget is one dashboard widget: a text line (Text set) or a graph.
type Widget struct {
	// Text is a text widget's markdown.
	Text string
	// Title is a graph's title.
	Title   string
	Metrics []Metric
	// Width and Height in CloudWatch's grid units (24 columns).
	Width, Height int
}

// Row is a row of widgets, placed left to right.
type Row []Widget

// Alarm is one CloudWatch alarm; every alarm notifies the stack's topic.
type Alarm struct {
	// ID is the alarm's construct id (and the local dashboard's name for it).
	ID string
	// Description follows the stack's name in AlarmDescription.
	Description       string
	Metric            Metric
	Threshold         float64
	Comparison        Comparison
	EvaluationPeriods int
	// DatapointsToAlarm is M of "M out of N"; CloudWatch's default (and
	// this definition's unless said) is EvaluationPeriods.
	DatapointsToAlarm int
	TreatMissingData  MissingData
	// Why is the reason for the threshold (docs/observability.md).
	Why string
}

// Datapoints is DatapointsToAlarm, defaulted to EvaluationPeriods.
func (a Alarm) Datapoints() int {
	if a.DatapointsToAlarm > 0 {
		return a.DatapointsToAlarm
	}
	return a.EvaluationPeriods
}

// Env is what the definition depends on.
type Env struct {
	// Stage is the API stage: the title of the API row.
	Stage string
	// SignIn adds the sign-in row and the AuthFailures alarm.
	SignIn bool
	// FunctionTimeout is the function's timeout (the duration alarm is at
	// 80% of it). Default contract.FunctionTimeout.
	FunctionTimeout time.Duration
}

// Definition is the dashboard and the alarms of one environment.
type Definition struct {
	Period time.Duration
	Rows   []Row
	Alarms []Alarm
}

// TableOperations are the DynamoDB operations the handler calls on each
// table and its indexes (CloudWatch reports an index's Query under the
// table). infra/stack's tests hold this to the function's IAM grants.
var TableOperations = map[string][]string{
	contract.Connections.ID: {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "TransactWriteItems"},
	contract.Messages.ID:    {"PutItem", "UpdateItem", "DeleteItem", "Query", "TransactWriteItems"},
}

// AlarmIDs returns the alarms' ids in order.
func (d Definition) AlarmIDs() []string {
	ids := make([]string, len(d.Alarms))
	for i, a := range d.Alarms {
		ids[i] = a.ID
	}
	return ids
}
