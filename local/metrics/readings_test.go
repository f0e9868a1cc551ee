package metrics

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/observability"
)

// TestEveryAlarmFiresOnItsFaultAndClearsUnderEveryReading: every alarm of
// the definition (with sign-in, which has them all) is run, for each metric
// it reads, under every reading of CloudWatch's open rules (Readings): the
// fault is that one metric breaching alone, the others silent, as AWS's
// error metrics are when nothing fails (DynamoDB's ThrottledRequests
// "generates data points only when an error occurs"); the alarm must go to
// ALARM. Then the fault stops, the metric either reporting healthy values
// (as the local stand-ins do) or nothing at all (as AWS's do), and the
// alarm must return to OK. A new alarm, or a new part of one, is covered
// here without a test of its own. A part the expression subtracts (the
// sign-ups LambdaErrors does not count) breaching alone must not fire it.
func TestEveryAlarmFiresOnItsFaultAndClearsUnderEveryReading(t *testing.T) {
	t.Parallel()
	def := observability.Define(observability.Env{Stage: "local", SignIn: true})
	for _, a := range def.Alarms {
		bad, good := faultValues(t, a)
		for _, leaf := range a.Metric.Reads() {
			for _, r := range Readings() {
				for _, silent := range []bool{false, true} {
					after := "reports healthy values"
					if silent {
						after = "reports nothing"
					}
					name := fmt.Sprintf("%s fires when only %s breaches and clears once it %s (%s)", a.ID, describe(leaf), after, r)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						runFault(t, a, leaf, r, bad, good, silent)
					})
				}
			}
		}
	}
}

// subtracted reports whether m's expression subtracts the part that is
// leaf ("… - FILL(id, 0)" or "… - id").
func subtracted(m observability.Metric, leaf observability.Metric) bool {
	if m.Math == nil {
		return false
	}
	for _, p := range m.Math.Parts {
		if p.Metric.Key() == leaf.Key() && (strings.Contains(m.Math.Expression, "- FILL("+p.ID+",") ||
			strings.HasSuffix(m.Math.Expression, "- "+p.ID)) {
			return true
		}
	}
	return false
}

// TestRefusedSignUpsDoNotSetOffLambdaErrors: with sign-in, the function's
// errors that are sign-ups its trigger refused are subtracted; any other
// error fires the alarm, under every reading.
func TestRefusedSignUpsDoNotSetOffLambdaErrors(t *testing.T) {
	t.Parallel()
	def := observability.Define(observability.Env{Stage: "local", SignIn: true})
	i := slices.IndexFunc(def.Alarms, func(a observability.Alarm) bool { return a.ID == "LambdaErrors" })
	if i < 0 {
		t.Fatal("no LambdaErrors alarm")
	}
	for _, r := range Readings() {
		for _, tc := range []struct {
			errors, refused float64
			want            State
		}{{3, 3, StateOK}, {4, 3, StateAlarm}, {1, 0, StateAlarm}} {
			now := time.Unix(1_800_000_000, 0).Add(500 * time.Millisecond)
			s := NewStore(func() time.Time { return now }, 0)
			e := NewEvaluator(s, def.Alarms[i:i+1], time.Second)
			e.SetReading(r)
			for _, leaf := range def.Alarms[i].Metric.Reads() {
				v := tc.errors
				if leaf.Namespace != observability.NamespaceLambda {
					v = tc.refused
				}
				if v > 0 {
					s.Put(leaf.Namespace, leaf.Name, localDims(leaf), v)
				}
			}
			now = now.Add(time.Second)
			if st := e.Evaluate()[0]; st.State != tc.want {
				t.Errorf("%s: %v errors of which %v refused sign-ups: %s (%s), want %s", r, tc.errors, tc.refused, st.State, st.Reason, tc.want)
			}
		}
	}
}

// runFault puts bad into leaf for the alarm's evaluation periods, then
// good (or nothing) for as many, evaluating after each period.
func runFault(t *testing.T, a observability.Alarm, leaf observability.Metric, r Reading, bad, good float64, silent bool) {
	t.Helper()
	now := time.Unix(1_800_000_000, 0).Add(500 * time.Millisecond)
	s := NewStore(func() time.Time { return now }, 0)
	e := NewEvaluator(s, []observability.Alarm{a}, time.Second)
	e.SetReading(r)
	dims := localDims(leaf)
	if leaf.Sum != nil { // a Metrics Insights sum: any value of its dimension
		dims[leaf.Sum.Dimension] = "fault"
	}
	step := func(v *float64) AlarmStatus {
		if v != nil {
			s.Put(leaf.Namespace, leaf.Name, dims, *v)
		}
		now = now.Add(time.Second)
		return e.Evaluate()[0]
	}
	var st AlarmStatus
	for range max(a.EvaluationPeriods, 1) {
		st = step(&bad)
	}
	if subtracted(a.Metric, leaf) {
		if st.State == StateAlarm {
			t.Errorf("a part the alarm subtracts fired it alone (%s)", st.Reason)
		}
		return
	}
	if st.State != StateAlarm {
		t.Errorf("during the fault the alarm is %s (%s), want ALARM", st.State, st.Reason)
	}
	for range max(a.EvaluationPeriods, 1) {
		if silent {
			st = step(nil)
		} else {
			st = step(&good)
		}
	}
	if st.State != StateOK {
		t.Errorf("after the fault the alarm is %s (%s), want OK", st.State, st.Reason)
	}
}

// faultValues are a value that breaches the alarm's threshold and one that
// does not, each put as a single sample in a period (so that every
// statistic the definition uses is the value itself).
func faultValues(t *testing.T, a observability.Alarm) (bad, good float64) {
	t.Helper()
	for _, m := range a.Metric.Reads() {
		if m.Stat == observability.SampleCount {
			t.Fatalf("%s: no single sample gives a SampleCount of any value: teach faultValues this alarm's fault", a.ID)
		}
	}
	switch a.Comparison {
	case observability.GreaterThanOrEqual, observability.LessThanOrEqual:
		bad = a.Threshold
	case observability.GreaterThan:
		bad = a.Threshold + 1
	case observability.LessThan:
		bad = a.Threshold - 1
	}
	good = 0
	if a.Comparison.Breaches(good, a.Threshold) {
		good = a.Threshold + 1
	}
	if !a.Comparison.Breaches(bad, a.Threshold) || a.Comparison.Breaches(good, a.Threshold) {
		t.Fatalf("%s: no fault values for %s %g", a.ID, a.Comparison, a.Threshold)
	}
	return bad, good
}

// describe names a metric an alarm reads as an operator would.
func describe(m observability.Metric) string {
	s := m.Namespace + " " + m.Name
	if m.Table != "" {
		s += " of " + m.Table
	}
	var dims []string
	for _, k := range slices.Sorted(maps.Keys(m.Dims)) {
		dims = append(dims, k+" "+m.Dims[k])
	}
	if len(dims) > 0 {
		s += " (" + strings.Join(dims, ", ") + ")"
	}
	if m.Sum != nil {
		s += " for one " + m.Sum.Dimension
	}
	return s
}
