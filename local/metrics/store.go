// Package metrics is the local stack's CloudWatch: it keeps the metrics the
// local stack produces — the handler's embedded-metric-format lines, the
// API Gateway and Lambda metrics the gateway stand-in counts, DynamoDB's
// per-operation metrics the DynamoDB proxy counts, and the page server's
// requests in place of Amplify Hosting's — as time series in memory, gives
// CloudWatch's statistics over a period, evaluates the alarms of the one
// definition (package observability) by CloudWatch's rules, and serves the
// definition's dashboard at /_local/dashboard.
//
// A series is named by namespace, metric name and its dimensions other
// than the resource's own (the stage, the function, the table's name, the
// app), as observability.Metric names it; a DynamoDB series carries the
// table's contract ID as its TableName.
package metrics

import (
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/groupchat/groupchat/observability"
)

// DefaultRetention is how much history the store keeps.
const DefaultRetention = 3 * time.Hour

// sample is one value put at a time.
type sample struct {
	at time.Time
	v  float64
}

// series is one metric's samples, oldest first.
type series struct {
	namespace, name string
	dims            map[string]string
	samples         []sample
}

// Store keeps every series; it is safe for concurrent use.
type Store struct {
	now    func() time.Time
	retain time.Duration

	mu     sync.Mutex
	series map[string]*series
}

// NewStore returns an empty store stamping samples with now (default
// time.Now) and keeping retain of history (default DefaultRetention).
func NewStore(now func() time.Time, retain time.Duration) *Store {
	if now == nil {
		now = time.Now
	}
	if retain <= 0 {
		retain = DefaultRetention
	}
	return &Store{now: now, retain: retain, series: map[string]*series{}}
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

func seriesKey(namespace, name string, dims map[string]string) string {
	var b strings.Builder
	b.WriteString(namespace + "/" + name)
	for _, k := range slices.Sorted(maps.Keys(dims)) {
		b.WriteString(" " + k + "=" + dims[k])
	}
	return b.String()
}

// Put adds one value of a metric now.
func (s *Store) Put(namespace, name string, dims map[string]string, v float64) {
	s.PutAt(namespace, name, dims, v, s.now())
}

// PutAt adds one value of a metric at a time.
func (s *Store) PutAt(namespace, name string, dims map[string]string, v float64, at time.Time) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	k := seriesKey(namespace, name, dims)
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.series[k]
	if se == nil {
		se = &series{namespace: namespace, name: name, dims: maps.Clone(dims)}
		if se.dims == nil {
			se.dims = map[string]string{}
		}
		s.series[k] = se
	}
	// Samples arrive in order but for a few concurrent writers: keep the
	// slice sorted by inserting from the end.
	i := len(se.samples)
	for i > 0 && se.samples[i-1].at.After(at) {
		i--
	}
	se.samples = slices.Insert(se.samples, i, sample{at, v})
	cut := at.Add(-s.retain)
	if len(se.samples) > 0 && se.samples[0].at.Before(cut) {
		j := sort.Search(len(se.samples), func(i int) bool { return !se.samples[i].at.Before(cut) })
		se.samples = slices.Delete(se.samples, 0, j)
	}
}

// Datapoint is one period's statistic; Start is the period's start.
type Datapoint struct {
	Start time.Time
	Value float64
}

// Line is one drawn line: a metric's datapoints (a sum with GroupBy gives
// one Line per value, labelled with it).
type Line struct {
	Label  string
	Points []Datapoint
}

// periodStart is the start of the period holding t: periods are aligned on
// multiples of the period since the epoch, as CloudWatch aligns them.
func periodStart(t time.Time, period time.Duration) time.Time {
	return time.Unix(0, t.UnixNano()-t.UnixNano()%int64(period))
}

// values returns the values of a series in each period from from to to
// (period starts), by period start.
func (se *series) values(period time.Duration, from, to time.Time) map[time.Time][]float64 {
	out := map[time.Time][]float64{}
	i := sort.Search(len(se.samples), func(i int) bool { return !se.samples[i].at.Before(from) })
	end := to.Add(period)
	for ; i < len(se.samples) && se.samples[i].at.Before(end); i++ {
		p := periodStart(se.samples[i].at, period)
		out[p] = append(out[p], se.samples[i].v)
	}
	return out
}

// match returns the series of namespace/name whose dimensions are exactly
// dims, plus the dimension extra when it is not "" (with any value).
func (s *Store) match(namespace, name string, dims map[string]string, extra string) []*series {
	var out []*series
	for _, se := range s.series {
		if se.namespace != namespace || se.name != name {
			continue
		}
		n := len(dims)
		if extra != "" {
			if _, ok := se.dims[extra]; !ok {
				continue
			}
			n++
		}
		if len(se.dims) != n {
			continue
		}
		ok := true
		for k, v := range dims {
			if se.dims[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, se)
		}
	}
	slices.SortFunc(out, func(a, b *series) int { return strings.Compare(a.dims[extra], b.dims[extra]) })
	return out
}

// localDims are the dimensions a Metric's series has in the store.
func localDims(m observability.Metric) map[string]string {
	dims := maps.Clone(m.Dims)
	if dims == nil {
		dims = map[string]string{}
	}
	if m.Table != "" {
		dims[observability.DimensionTableName] = m.Table
	}
	return dims
}

// Query returns the metric's lines over the periods from from to to
// (period starts, both included): a period without samples has no
// datapoint (CloudWatch's missing data). Metric math is computed under the
// strictest reading (Reading{}).
func (s *Store) Query(m observability.Metric, period time.Duration, from, to time.Time) []Line {
	return s.QueryAs(Reading{}, m, period, from, to)
}

// QueryAs is Query with metric math computed under reading r.
func (s *Store) QueryAs(r Reading, m observability.Metric, period time.Duration, from, to time.Time) []Line {
	from, to = periodStart(from, period), periodStart(to, period)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.query(r, m, period, from, to)
}

func (s *Store) query(r Reading, m observability.Metric, period time.Duration, from, to time.Time) []Line {
	if m.Math != nil {
		return []Line{s.math(r, m, period, from, to)}
	}
	dims := localDims(m)
	if m.Sum == nil {
		var values map[time.Time][]float64
		if ses := s.match(m.Namespace, m.Name, dims, ""); len(ses) == 1 {
			values = ses[0].values(period, from, to)
		}
		return []Line{{Label: m.Label, Points: points(values, m.Stat, from, to, period)}}
	}
	// A Metrics Insights SUM over every value of one dimension: the
	// statistic of each series, aggregated per period over the series
	// that have data in it (an aggregation, not metric math's +).
	ses := s.match(m.Namespace, m.Name, dims, m.Sum.Dimension)
	if m.Sum.GroupBy {
		var lines []Line
		for _, se := range ses {
			lines = append(lines, Line{Label: se.dims[m.Sum.Dimension], Points: points(se.values(period, from, to), m.Stat, from, to, period)})
		}
		return lines
	}
	total := map[time.Time]float64{}
	for _, se := range ses {
		for _, p := range points(se.values(period, from, to), m.Stat, from, to, period) {
			total[p.Start] += p.Value
		}
	}
	return []Line{{Label: m.Label, Points: ordered(total, from, to, period)}}
}

// math computes a metric-math expression from its parts' datapoints.
func (s *Store) math(r Reading, m observability.Metric, period time.Duration, from, to time.Time) Line {
	line := Line{Label: m.Label}
	c := &mathContext{parts: map[string]map[time.Time]float64{}, reading: r}
	var ids []string
	for _, p := range m.Math.Parts {
		ids = append(ids, p.ID)
		byStart := map[time.Time]float64{}
		if lines := s.query(r, p.Metric, period, from, to); len(lines) == 1 {
			for _, d := range lines[0].Points {
				byStart[d.Start] = d.Value
			}
		}
		c.parts[p.ID] = byStart
	}
	e, err := parseMath(m.Math.Expression, ids)
	if err != nil {
		// TestEveryExpressionIsOneTheEvaluatorComputes keeps the
		// definition's expressions parseable; this one draws nothing.
		line.Label = err.Error()
		return line
	}
	for p := from; !p.After(to); p = p.Add(period) {
		c.periods = append(c.periods, p)
	}
	v := e.eval(c)
	if v.scalar {
		for _, p := range c.periods {
			line.Points = append(line.Points, Datapoint{p, v.s})
		}
		return line
	}
	line.Points = ordered(v.ts, from, to, period)
	return line
}

// ordered is the datapoints of byStart from from to to, oldest first.
func ordered(byStart map[time.Time]float64, from, to time.Time, period time.Duration) []Datapoint {
	var out []Datapoint
	for p := from; !p.After(to); p = p.Add(period) {
		if v, ok := byStart[p]; ok {
			out = append(out, Datapoint{p, v})
		}
	}
	return out
}

func points(values map[time.Time][]float64, stat string, from, to time.Time, period time.Duration) []Datapoint {
	var out []Datapoint
	for p := from; !p.After(to); p = p.Add(period) {
		if vs := values[p]; len(vs) > 0 {
			out = append(out, Datapoint{p, Statistic(stat, vs)})
		}
	}
	return out
}

// Statistic is CloudWatch's statistic stat of the values of one period:
// Sum, Average, Minimum, Maximum, SampleCount, or a percentile pNN (pNN.N).
// A percentile is computed from the values themselves, as CloudWatch does
// for values it received one by one: the nearest-rank value, the smallest
// value at or above which NN% of the values lie.
func Statistic(stat string, vs []float64) float64 {
	switch stat {
	case observability.Sum:
		return sum(vs)
	case observability.Average:
		return sum(vs) / float64(len(vs))
	case observability.Minimum:
		return slices.Min(vs)
	case observability.Maximum:
		return slices.Max(vs)
	case observability.SampleCount:
		return float64(len(vs))
	}
	if p, ok := percentile(stat); ok {
		sorted := slices.Sorted(slices.Values(vs))
		rank := int(math.Ceil(p / 100 * float64(len(sorted))))
		return sorted[max(rank, 1)-1]
	}
	return math.NaN()
}

func sum(vs []float64) float64 {
	var t float64
	for _, v := range vs {
		t += v
	}
	return t
}

// percentile parses "p99" or "p99.9".
func percentile(stat string) (float64, bool) {
	rest, ok := strings.CutPrefix(stat, "p")
	if !ok {
		return 0, false
	}
	p, err := strconv.ParseFloat(rest, 64)
	return p, err == nil && p > 0 && p <= 100
}
