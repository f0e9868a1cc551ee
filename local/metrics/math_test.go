package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/observability"
)

// sumOf is a + b (or the expression given) over two Lambda metrics.
func sumOf(expression string) observability.Metric {
	part := func(name string) observability.Metric {
		return observability.Metric{Namespace: observability.NamespaceLambda, Name: name, Stat: observability.Sum}
	}
	return observability.Metric{Namespace: observability.NamespaceLambda, Name: "A", Stat: observability.Sum,
		Math: &observability.Math{Expression: expression, Parts: []observability.Part{{ID: "a", Metric: part("A")}, {ID: "b", Metric: part("B")}}}}
}

// TestMetricMathUnderEachReading: where a part of an expression has no
// datapoint, plain arithmetic has none under the strict reading and counts
// the part as 0 under the lenient one; FILL gives the same under both.
func TestMetricMathUnderEachReading(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	s := NewStore(func() time.Time { return now }, 0)
	s.PutAt(observability.NamespaceLambda, "A", nil, 2, now)                  // period 0: only a
	s.PutAt(observability.NamespaceLambda, "A", nil, 3, now.Add(time.Second)) // period 1: a and b
	s.PutAt(observability.NamespaceLambda, "B", nil, 4, now.Add(time.Second))
	// period 2: neither
	query := func(r Reading, expression string) map[int]float64 {
		out := map[int]float64{}
		for _, p := range s.QueryAs(r, sumOf(expression), time.Second, now, now.Add(2*time.Second))[0].Points {
			out[int(p.Start.Sub(now)/time.Second)] = p.Value
		}
		return out
	}
	strict, lenient := Reading{}, Reading{MissingPartIsZero: true}
	for _, tc := range []struct {
		name       string
		r          Reading
		expression string
		want       map[int]float64
	}{
		{"strict: a + b has no value where b has none", strict, "a + b", map[int]float64{1: 7}},
		{"lenient: a missing b is a", lenient, "a + b", map[int]float64{0: 2, 1: 7}},
		{"strict: filled parts always add up", strict, "FILL(a, 0) + FILL(b, 0)", map[int]float64{0: 2, 1: 7, 2: 0}},
		{"lenient: filled parts always add up", lenient, "FILL(a, 0) + FILL(b, 0)", map[int]float64{0: 2, 1: 7, 2: 0}},
		{"precedence and parentheses", strict, "(a + b) * 2 - b / 4", map[int]float64{1: 13}},
		{"a scalar meets every datapoint", strict, "a * 10", map[int]float64{0: 20, 1: 30}},
		{"a division by zero has no value", lenient, "a / b", map[int]float64{1: 0.75}},
		{"a scalar does not fill a missing part", lenient, "a + (b - 4)", map[int]float64{0: 2, 1: 3}},
	} {
		got := query(tc.r, tc.expression)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

// TestMathAlarmsOnDynamoDBIgnoreMissingDataUnlessTheReadingSaysNot: the
// strictest reading extends AWS's "AWS/DynamoDB alarms always ignore
// missing data" to metric math over a DynamoDB metric; the other reading
// lets it follow its own TreatMissingData.
func TestMathAlarmsOnDynamoDBIgnoreMissingDataUnlessTheReadingSaysNot(t *testing.T) {
	t.Parallel()
	part := observability.Metric{Namespace: observability.NamespaceDynamoDB, Name: "SystemErrors", Stat: observability.Sum, Table: "T",
		Dims: map[string]string{observability.DimensionOperation: "GetItem"}}
	a := observability.Alarm{ID: "A", Threshold: 1, Comparison: observability.GreaterThanOrEqual, EvaluationPeriods: 1,
		TreatMissingData: observability.NotBreaching, Metric: observability.Metric{Namespace: part.Namespace, Name: part.Name,
			Stat: part.Stat, Table: "T", Math: &observability.Math{Expression: "getitem", Parts: []observability.Part{{ID: "getitem", Metric: part}}}}}
	for _, tc := range []struct {
		r    Reading
		want []State
	}{
		{Reading{}, []State{StateAlarm, StateAlarm}},
		{Reading{MathFollowsTreatment: true}, []State{StateAlarm, StateOK}},
	} {
		now := time.Unix(1_800_000_000, 0).Add(500 * time.Millisecond)
		s := NewStore(func() time.Time { return now }, 0)
		e := NewEvaluator(s, []observability.Alarm{a}, time.Second)
		e.SetReading(tc.r)
		s.Put(part.Namespace, part.Name, localDims(part), 1)
		var got []State
		for range 2 {
			now = now.Add(time.Second)
			got = append(got, e.Evaluate()[0].State)
		}
		if got[0] != tc.want[0] || got[1] != tc.want[1] {
			t.Errorf("%s: %v, want %v", tc.r, got, tc.want)
		}
	}
}

// TestEveryExpressionIsOneTheEvaluatorComputes: every metric-math
// expression of the definition (graphs and alarms) parses, names only its
// parts, and reads no more metrics than a CloudWatch alarm may.
func TestEveryExpressionIsOneTheEvaluatorComputes(t *testing.T) {
	t.Parallel()
	def := observability.Define(observability.Env{Stage: "local", SignIn: true})
	metrics := []observability.Metric{}
	for _, row := range def.Rows {
		for _, w := range row {
			metrics = append(metrics, w.Metrics...)
		}
	}
	for _, a := range def.Alarms {
		metrics = append(metrics, a.Metric)
	}
	for _, m := range metrics {
		if m.Math == nil {
			continue
		}
		var ids []string
		for _, p := range m.Math.Parts {
			ids = append(ids, p.ID)
		}
		if _, err := parseMath(m.Math.Expression, ids); err != nil {
			t.Errorf("%s: %v", m.Key(), err)
		}
		if n := len(m.Reads()); n > observability.MaxMathMetrics {
			t.Errorf("%s reads %d metrics; a CloudWatch alarm may read %d", m.Key(), n, observability.MaxMathMetrics)
		}
	}
	for _, bad := range []string{"SUM([a, b])", "a + c", "FILL(a, REPEAT)", "a +", "(a"} {
		if _, err := parseMath(bad, []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q parsed (%v)", bad, err)
		}
	}
}
