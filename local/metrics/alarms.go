package metrics

import (
	"fmt"
	"sync"
	"time"

	"github.com/groupchat/groupchat/observability"
)

// State is an alarm's state, with CloudWatch's names.
type State string

const (
	StateOK               State = "OK"
	StateAlarm            State = "ALARM"
	StateInsufficientData State = "INSUFFICIENT_DATA"
)

// AlarmStatus is an alarm's state after an evaluation.
type AlarmStatus struct {
	ID     string `json:"id"`
	State  State  `json:"state"`
	Reason string `json:"reason"`
	// Since is when the alarm entered State.
	Since time.Time `json:"since"`
	// Evaluated are the datapoints of the periods evaluated, oldest first
	// (nil: missing).
	Evaluated []*float64 `json:"evaluated"`
	// Transitions counts the state changes so far.
	Transitions int `json:"transitions"`
}

// Evaluator evaluates the definition's alarms on a store by CloudWatch's
// rules: each evaluation takes the alarm's last EvaluationPeriods complete
// periods, a period's datapoint breaches when it compares with the
// threshold as the alarm's operator says, and the alarm is in ALARM when
// at least DatapointsToAlarm of them breach (M out of N). A missing
// datapoint counts as the alarm's TreatMissingData says: breaching,
// notBreaching, or not at all (ignore, missing); when every datapoint is
// missing the alarm goes to OK (notBreaching), ALARM (breaching),
// INSUFFICIENT_DATA (missing) or stays as it is (ignore). As on AWS, an
// alarm on a metric in the AWS/DynamoDB namespace always ignores missing
// data, whatever its TreatMissingData; so does, under the default
// (strictest) Reading, an alarm whose metric math reads one. A metric-math
// alarm's datapoints are its expression's, computed under the evaluator's
// Reading. Every alarm starts in INSUFFICIENT_DATA.
type Evaluator struct {
	store  *Store
	alarms []observability.Alarm
	period time.Duration

	mu      sync.Mutex
	status  map[string]*AlarmStatus
	reading Reading
}

// NewEvaluator evaluates alarms over store with periods of period (the
// definition's: observability.Period; a test may take a second).
func NewEvaluator(store *Store, alarms []observability.Alarm, period time.Duration) *Evaluator {
	e := &Evaluator{store: store, alarms: alarms, period: period, status: map[string]*AlarmStatus{}}
	now := store.Now()
	for _, a := range alarms {
		e.status[a.ID] = &AlarmStatus{ID: a.ID, State: StateInsufficientData, Reason: "not evaluated yet", Since: now}
	}
	return e
}

// SetReading makes the evaluator follow reading r from its next
// evaluation on (default: the strictest, Reading{}).
func (e *Evaluator) SetReading(r Reading) {
	e.mu.Lock()
	e.reading = r
	e.mu.Unlock()
}

// Period is the evaluator's period.
func (e *Evaluator) Period() time.Duration { return e.period }

// Evaluate evaluates every alarm now and returns their states, in the
// definition's order.
func (e *Evaluator) Evaluate() []AlarmStatus {
	now := e.store.Now()
	last := periodStart(now, e.period).Add(-e.period) // the last complete period
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]AlarmStatus, 0, len(e.alarms))
	for _, a := range e.alarms {
		st := e.status[a.ID]
		state, reason, evaluated := e.evaluate(a, st.State, last)
		if state != st.State {
			st.State, st.Since = state, now
			st.Transitions++
		}
		st.Reason, st.Evaluated = reason, evaluated
		out = append(out, *st)
	}
	return out
}

// State returns one alarm's state as of the last evaluation.
func (e *Evaluator) State(id string) AlarmStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st := e.status[id]; st != nil {
		return *st
	}
	return AlarmStatus{ID: id}
}

func (e *Evaluator) evaluate(a observability.Alarm, current State, last time.Time) (State, string, []*float64) {
	n := max(a.EvaluationPeriods, 1)
	first := last.Add(-time.Duration(n-1) * e.period)
	lines := e.store.QueryAs(e.reading, a.Metric, e.period, first, last)
	byStart := map[time.Time]float64{}
	if len(lines) > 0 {
		for _, p := range lines[0].Points {
			byStart[p.Start] = p.Value
		}
	}
	treat := a.TreatMissingData
	if a.Metric.ReadsNamespace(observability.NamespaceDynamoDB) && (a.Metric.Math == nil || !e.reading.MathFollowsTreatment) {
		treat = observability.Ignore
	}
	evaluated := make([]*float64, 0, n)
	breaching, present := 0, 0
	for p := first; !p.After(last); p = p.Add(e.period) {
		v, ok := byStart[p]
		if !ok {
			evaluated = append(evaluated, nil)
			if treat == observability.Breaching {
				breaching++
			}
			continue
		}
		present++
		evaluated = append(evaluated, &v)
		if a.Comparison.Breaches(v, a.Threshold) {
			breaching++
		}
	}
	m := a.Datapoints()
	if present == 0 {
		switch treat {
		case observability.NotBreaching:
			return StateOK, fmt.Sprintf("no data in %d period(s): treated as not breaching", n), evaluated
		case observability.Breaching:
			return StateAlarm, fmt.Sprintf("no data in %d period(s): treated as breaching", n), evaluated
		case observability.Ignore:
			return current, fmt.Sprintf("no data in %d period(s): state kept (missing data ignored)", n), evaluated
		default:
			return StateInsufficientData, fmt.Sprintf("no data in %d period(s)", n), evaluated
		}
	}
	if breaching >= m {
		return StateAlarm, fmt.Sprintf("%d of the last %d datapoint(s) %s %g", breaching, n, a.Comparison, a.Threshold), evaluated
	}
	return StateOK, fmt.Sprintf("%d of the last %d datapoint(s) %s %g (%d needed)", breaching, n, a.Comparison, a.Threshold, m), evaluated
}
