package metrics

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/observability"
)

func TestStatisticsAreCloudWatchs(t *testing.T) {
	t.Parallel()
	vs := []float64{5, 1, 4, 2, 3, 10, 7, 6, 9, 8}
	for stat, want := range map[string]float64{
		"Sum": 55, "Average": 5.5, "Minimum": 1, "Maximum": 10, "SampleCount": 10,
		"p50": 5, "p90": 9, "p99": 10, "p10": 1, "p99.9": 10,
	} {
		if got := Statistic(stat, vs); got != want {
			t.Errorf("%s of 1..10 = %v, want %v", stat, got, want)
		}
	}
	if got := Statistic("p99", []float64{42}); got != 42 {
		t.Errorf("p99 of one value = %v", got)
	}
}

// evalCase steps an alarm through periods of datapoints (nil: none put).
func evalAlarm(t *testing.T, a observability.Alarm, periods []*float64) []State {
	t.Helper()
	now := time.Unix(1_800_000_000, 0).Add(500 * time.Millisecond)
	s := NewStore(func() time.Time { return now }, 0)
	e := NewEvaluator(s, []observability.Alarm{a}, time.Second)
	var out []State
	for _, v := range periods {
		if v != nil {
			s.Put(a.Metric.Namespace, a.Metric.Name, a.Metric.Dims, *v)
		}
		now = now.Add(time.Second)
		out = append(out, e.Evaluate()[0].State)
	}
	return out
}

func f(v float64) *float64 { return &v }

func TestAlarmEvaluationFollowsCloudWatchsRules(t *testing.T) {
	t.Parallel()
	m := observability.Metric{Namespace: observability.NamespaceLambda, Name: "Errors", Stat: "Sum"}
	alarm := func(n, dp int, treat observability.MissingData) observability.Alarm {
		return observability.Alarm{ID: "A", Metric: m, Threshold: 1, Comparison: observability.GreaterThanOrEqual,
			EvaluationPeriods: n, DatapointsToAlarm: dp, TreatMissingData: treat}
	}
	const (
		ok   = StateOK
		al   = StateAlarm
		insu = StateInsufficientData
	)
	for _, tc := range []struct {
		name    string
		alarm   observability.Alarm
		periods []*float64
		want    []State
	}{
		{"one breaching period fires, a good one clears", alarm(1, 0, observability.NotBreaching), []*float64{f(0), f(3), f(0)}, []State{ok, al, ok}},
		{"missing data not breaching is OK", alarm(1, 0, observability.NotBreaching), []*float64{nil, f(1), nil}, []State{ok, al, ok}},
		{"missing data breaching fires", alarm(1, 0, observability.Breaching), []*float64{f(0), nil}, []State{ok, al}},
		{"missing data missing is INSUFFICIENT_DATA", alarm(1, 0, observability.Missing), []*float64{nil, f(2), nil}, []State{insu, al, insu}},
		{"missing data ignored keeps the state", alarm(1, 0, observability.Ignore), []*float64{f(2), nil, nil, f(0), nil}, []State{al, al, al, ok, ok}},
		{"2 of 3: one breach is not enough", alarm(3, 2, observability.NotBreaching), []*float64{f(1), f(0), f(0)}, []State{ok, ok, ok}},
		{"2 of 3: two breaches in the window fire", alarm(3, 2, observability.NotBreaching), []*float64{f(1), f(0), f(1), f(0), f(0)}, []State{ok, ok, al, ok, ok}},
		{"3 of 3: missing periods treated as breaching count", alarm(3, 3, observability.Breaching), []*float64{f(0), f(0), f(0), nil, f(1), f(1)}, []State{ok, ok, ok, ok, ok, al}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := evalAlarm(t, tc.alarm, tc.periods)
			for i := range tc.want {
				if got[i] != tc.want[i] {
					t.Errorf("states %v, want %v", got, tc.want)
					break
				}
			}
		})
	}
	// An AWS/DynamoDB alarm ignores missing data whatever it says.
	d := alarm(1, 0, observability.NotBreaching)
	d.Metric = observability.Metric{Namespace: observability.NamespaceDynamoDB, Name: "SystemErrors", Stat: "Sum", Table: "T"}
	d.Metric.Dims = map[string]string{observability.DimensionTableName: "T"}
	if got := evalAlarm(t, d, []*float64{nil, f(1), nil}); got[0] != insu || got[1] != al || got[2] != al {
		t.Errorf("a DynamoDB alarm went %v, want INSUFFICIENT_DATA, ALARM, ALARM (missing data ignored)", got)
	}
}

// The handler's EMF lines become series per dimension set, Stage left out.
func TestEMFLinesBecomeSeries(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	s := NewStore(func() time.Time { return now }, 0)
	w := s.EMFWriter()
	line := `{"Stage":"local","Route":"sendPublic","Deliveries":3,"FanoutSize":[2,4],"MessagesAccepted":1,"_aws":{"Timestamp":1,"CloudWatchMetrics":[` +
		`{"Namespace":"GroupChat","Dimensions":[["Stage"]],"Metrics":[{"Name":"Deliveries","Unit":"Count"},{"Name":"FanoutSize","Unit":"Count"}]},` +
		`{"Namespace":"GroupChat","Dimensions":[["Stage","Route"]],"Metrics":[{"Name":"MessagesAccepted","Unit":"Count"}]}]}}` + "\n"
	_, _ = w.Write([]byte(line[:40]))
	_, _ = w.Write([]byte(line[40:]))
	q := func(m observability.Metric) float64 {
		lines := s.Query(m, time.Second, now, now)
		if len(lines) != 1 || len(lines[0].Points) != 1 {
			t.Fatalf("%s: %v", m.Key(), lines)
		}
		return lines[0].Points[0].Value
	}
	if v := q(observability.Metric{Namespace: "GroupChat", Name: "Deliveries", Stat: "Sum"}); v != 3 {
		t.Errorf("Deliveries %v", v)
	}
	if v := q(observability.Metric{Namespace: "GroupChat", Name: "FanoutSize", Stat: "Maximum"}); v != 4 {
		t.Errorf("FanoutSize max %v", v)
	}
	if v := q(observability.Metric{Namespace: "GroupChat", Name: "MessagesAccepted", Stat: "Sum", Dims: map[string]string{"Route": "sendPublic"}}); v != 1 {
		t.Errorf("MessagesAccepted %v", v)
	}
}

// The embedded uPlot is the npm package pinned in the root lockfile.
func TestUPlotIsThePinnedPackage(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	b, err := os.ReadFile(filepath.Join(root, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	pinned := lock.Packages["node_modules/uplot"].Version
	var pkg struct{ Version string }
	b, err = os.ReadFile(filepath.Join(root, "node_modules", "uplot", "package.json"))
	if err != nil {
		t.Fatalf("uplot is not installed (scripts/deps.sh installs the root packages): %v", err)
	}
	_ = json.Unmarshal(b, &pkg)
	if pkg.Version != pinned || pinned == "" {
		t.Fatalf("node_modules has uplot %s, the lockfile pins %q: run scripts/deps.sh", pkg.Version, pinned)
	}
	for _, name := range []string{"uPlot.iife.min.js", "uPlot.min.css"} {
		want, err := os.ReadFile(filepath.Join(root, "node_modules", "uplot", "dist", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := web.ReadFile("web/" + name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("local/metrics/web/%s is not uplot %s's dist/%s: copy it again", name, pinned, name)
		}
	}
}

// The dashboard serves the definition's rows and alarms, and the page with
// its own copy of uPlot.
func TestDashboardServesTheDefinition(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	s := NewStore(func() time.Time { return now }, 0)
	def := observability.Define(observability.Env{Stage: "local"})
	d := NewDashboard(def, s, NewEvaluator(s, def.Alarms, time.Second))
	s.Put(observability.NamespaceAPI, "ConnectCount", nil, 1)
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	var data Data
	if err := json.Unmarshal(get(DashboardPath+"/data").Body.Bytes(), &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Rows) != len(def.Rows) || len(data.Alarms) != len(def.Alarms) {
		t.Fatalf("%d rows and %d alarms, the definition has %d and %d", len(data.Rows), len(data.Alarms), len(def.Rows), len(def.Alarms))
	}
	for i, row := range def.Rows {
		for j, w := range row {
			if got := data.Rows[i][j]; got.Title != w.Title || got.Text != w.Text || got.Width != w.Width {
				t.Errorf("widget %d.%d is %q %q %d, the definition's %q %q %d", i, j, got.Title, got.Text, got.Width, w.Title, w.Text, w.Width)
			}
		}
	}
	if first := data.Rows[1][0]; first.Title != "Connections and messages" || len(first.Lines[0].Points) != 1 || first.Lines[0].Points[0][1] != 1 {
		t.Errorf("the first graph: %+v", first)
	}
	for _, row := range data.Rows {
		for _, w := range row {
			if w.Title == "Invocations, errors, throttles" && strings.Contains(w.Note, "no local data") {
				t.Errorf("the Lambda graph's note says throttles have no local data (the environments count them): %q", w.Note)
			}
		}
	}
	page := get(DashboardPath + "/").Body.String()
	if !strings.Contains(page, `src="uPlot.iife.min.js"`) || strings.Contains(page, "https://") {
		t.Errorf("the page does not load its own uPlot:\n%s", page)
	}
	if rec := get(DashboardPath + "/uPlot.iife.min.js"); rec.Code != http.StatusOK || rec.Body.Len() < 10000 {
		t.Errorf("uPlot: %d, %d bytes", rec.Code, rec.Body.Len())
	}
}
