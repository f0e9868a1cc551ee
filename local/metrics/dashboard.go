package metrics

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/groupchat/groupchat/observability"
)

// DashboardPath is where the local stack serves the dashboard.
const DashboardPath = "/_local/dashboard"

// window is how many periods a graph shows, the current one included.
const window = 36

//go:embed web
var web embed.FS

// noLocalSource names the metrics nothing in the local stack produces,
// with the reason the dashboard shows, and the metrics only one way of
// running it produces, with where they come from.
var noLocalSource = map[string]string{
	observability.NamespaceDynamoDB + "/ConsumedReadCapacityUnits":  "no local data: dynalite reports consumed capacity only when a request asks, and the handler does not",
	observability.NamespaceDynamoDB + "/ConsumedWriteCapacityUnits": "no local data: dynalite reports consumed capacity only when a request asks, and the handler does not",
	observability.NamespaceLambda + "/Throttles":                    "local: Throttles counts the invocations the execution environments (-lambda env) refuse over -lambda-concurrency; the in-process function (-lambda inprocess) never throttles",
}

// localSource says where a namespace's local numbers come from when it is
// not the service itself.
var localSource = map[string]string{
	observability.NamespaceSQS:     "local: the settle queue's stand-in (local/sqslocal), the dead-letter queue's depth when a message moves there",
	observability.NamespaceAmplify: "local: this stack's page server (the built page, /config.json), each response counted as Amplify counts its app's",
}

// Dashboard serves the definition's dashboard over a store, with the
// evaluator's alarm states, at DashboardPath: the page, its script and
// uPlot (served from the embedded copy, never a CDN), and /data, the
// widgets' datapoints and the alarms as JSON.
type Dashboard struct {
	def   observability.Definition
	store *Store
	eval  *Evaluator
	files http.Handler
}

// NewDashboard serves def's dashboard.
func NewDashboard(def observability.Definition, store *Store, eval *Evaluator) *Dashboard {
	sub, _ := fs.Sub(web, "web")
	return &Dashboard{def: def, store: store, eval: eval, files: http.FileServerFS(sub)}
}

func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, DashboardPath)
	switch rest {
	case "":
		http.Redirect(w, r, DashboardPath+"/", http.StatusFound)
	case "/data":
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d.Data())
	default:
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		d.files.ServeHTTP(w, r2)
	}
}

// Data is what /data answers.
type Data struct {
	// PeriodSeconds is the evaluator's period; Now the store's clock (Unix ms).
	PeriodSeconds float64        `json:"periodSeconds"`
	DefinedPeriod float64        `json:"definedPeriodSeconds"`
	Now           int64          `json:"now"`
	Rows          [][]WidgetData `json:"rows"`
	Alarms        []AlarmData    `json:"alarms"`
}

// WidgetData is one widget with its lines.
type WidgetData struct {
	Text   string     `json:"text,omitempty"`
	Title  string     `json:"title,omitempty"`
	Width  int        `json:"width"`
	Height int        `json:"height"`
	Lines  []LineData `json:"lines,omitempty"`
	// Alarms are the alarms on a metric the widget draws: their
	// thresholds are drawn on it.
	Alarms []string `json:"alarms,omitempty"`
	// Note says why some of its lines have no local source, or where
	// they come from locally.
	Note string `json:"note,omitempty"`
}

// LineData is one line: its label and [Unix seconds, value] pairs.
type LineData struct {
	Label  string       `json:"label"`
	Points [][2]float64 `json:"points"`
}

// AlarmData is an alarm with its definition and state.
type AlarmData struct {
	AlarmStatus
	Description string  `json:"description"`
	Metric      string  `json:"metric"`
	Stat        string  `json:"stat"`
	Threshold   float64 `json:"threshold"`
	Comparison  string  `json:"comparison"`
	Periods     int     `json:"evaluationPeriods"`
	Datapoints  int     `json:"datapointsToAlarm"`
	Missing     string  `json:"treatMissingData"`
}

// Data evaluates the alarms and returns every widget's lines over the last
// window periods.
func (d *Dashboard) Data() Data {
	states := d.eval.Evaluate()
	period := d.eval.Period()
	now := d.store.Now()
	from := now.Add(-time.Duration(window-1) * period)
	out := Data{PeriodSeconds: period.Seconds(), DefinedPeriod: d.def.Period.Seconds(), Now: now.UnixMilli()}
	for _, row := range d.def.Rows {
		var wr []WidgetData
		for _, w := range row {
			wd := WidgetData{Text: w.Text, Title: w.Title, Width: w.Width, Height: w.Height}
			var missing []string
			for _, m := range w.Metrics {
				why, ok := noLocalSource[m.Namespace+"/"+m.Name]
				if !ok {
					why, ok = localSource[m.Namespace]
				}
				if ok && !slices.Contains(missing, why) {
					missing = append(missing, why)
				}
				for _, l := range d.store.Query(m, period, from, now) {
					ld := LineData{Label: l.Label, Points: [][2]float64{}}
					if ld.Label == "" {
						ld.Label = m.Name + " " + m.Stat
					}
					for _, p := range l.Points {
						ld.Points = append(ld.Points, [2]float64{float64(p.Start.Unix()) + float64(p.Start.Nanosecond())/1e9, p.Value})
					}
					wd.Lines = append(wd.Lines, ld)
				}
				for _, a := range d.def.Alarms {
					if a.Metric.Key() == m.Key() && a.Metric.Stat == m.Stat && !slices.Contains(wd.Alarms, a.ID) {
						wd.Alarms = append(wd.Alarms, a.ID)
					}
				}
			}
			wd.Note = strings.Join(missing, "; ")
			wr = append(wr, wd)
		}
		out.Rows = append(out.Rows, wr)
	}
	for i, a := range d.def.Alarms {
		out.Alarms = append(out.Alarms, AlarmData{AlarmStatus: states[i], Description: a.Description, Metric: a.Metric.Key(),
			Stat: a.Metric.Stat, Threshold: a.Threshold, Comparison: string(a.Comparison), Periods: a.EvaluationPeriods,
			Datapoints: a.Datapoints(), Missing: string(a.TreatMissingData)})
	}
	return out
}
