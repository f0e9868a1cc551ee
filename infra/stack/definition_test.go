package stack

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/observability"
)

// resourceDims are the dimensions each side binds to its own resource.
var resourceDims = map[string][]string{
	observability.NamespaceAPI:      {"ApiId", "Stage"},
	observability.NamespaceLambda:   {"FunctionName"},
	observability.NamespaceDynamoDB: {observability.DimensionTableName},
	observability.NamespaceChat:     {contract.MetricDimensionStage},
	observability.NamespaceAmplify:  {observability.DimensionApp},
	observability.NamespaceSQS:      {"QueueName"},
}

// drawn is one visible line of a graph as the dashboard body has it: a
// metric with its dimensions, or an expression with the metrics it reads.
type drawn struct {
	namespace, name, stat, label, id string
	dims                             map[string]any
	expression                       string
	parts                            []drawn // the hidden metrics of an expression
}

// drawnLines parses a graph widget's "metrics" into its visible lines.
func drawnLines(t *testing.T, w map[string]any) []drawn {
	t.Helper()
	p, _ := w["properties"].(map[string]any)
	lines, _ := p["metrics"].([]any)
	var out []drawn
	for _, l := range lines {
		parts := l.([]any)
		opts, _ := parts[len(parts)-1].(map[string]any)
		if expr, ok := opts["expression"].(string); ok {
			label, _ := opts["label"].(string)
			out = append(out, drawn{expression: expr, label: label})
			continue
		}
		d := drawn{namespace: parts[0].(string), name: parts[1].(string), dims: map[string]any{}, stat: "Average"}
		end := len(parts)
		if opts != nil {
			end--
			if s, ok := opts["stat"].(string); ok {
				d.stat = s
			}
			d.label, _ = opts["label"].(string)
			d.id, _ = opts["id"].(string)
		}
		for i := 2; i+1 < end; i += 2 {
			d.dims[parts[i].(string)] = parts[i+1]
		}
		if opts != nil && opts["visible"] == false {
			last := &out[len(out)-1]
			last.parts = append(last.parts, d)
			continue
		}
		out = append(out, d)
	}
	return out
}

// matches says how a drawn line differs from the definition's metric ("" if not).
func (d drawn) matches(s *synthesized, m observability.Metric) string {
	if m.Sum != nil { // a Metrics Insights query
		want := fmt.Sprintf("SELECT SUM(%s) FROM SCHEMA(\"%s\"", m.Name, m.Namespace)
		if !strings.HasPrefix(d.expression, want) || strings.Contains(d.expression, "GROUP BY "+m.Sum.Dimension) != m.Sum.GroupBy {
			return fmt.Sprintf("expression %q, want %s… (group by %v)", d.expression, want, m.Sum.GroupBy)
		}
		if d.label != m.Label && (m.Label != "" || d.label != d.expression) { // CDK labels an unlabelled query with itself
			return fmt.Sprintf("label %q, want %q", d.label, m.Label)
		}
		return ""
	}
	if m.Math != nil {
		if d.expression != m.Math.Expression || d.label != m.Label {
			return fmt.Sprintf("expression %q labelled %q, want %q labelled %q", d.expression, d.label, m.Math.Expression, m.Label)
		}
		if len(d.parts) != len(m.Math.Parts) {
			return fmt.Sprintf("%d parts, the definition's expression reads %d", len(d.parts), len(m.Math.Parts))
		}
		for _, p := range d.parts {
			if diff := partDiff(p.id, p.namespace, p.name, p.stat, p.dims, m.Math); diff != "" {
				return diff
			}
		}
		return ""
	}
	if d.namespace != m.Namespace || d.name != m.Name || d.stat != m.Stat || d.label != m.Label {
		return fmt.Sprintf("%s/%s %s %q, want %s/%s %s %q", d.namespace, d.name, d.stat, d.label, m.Namespace, m.Name, m.Stat, m.Label)
	}
	want := slices.Concat(resourceDims[m.Namespace], slices.Collect(maps.Keys(m.Dims)))
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(d.dims)); !slices.Equal(got, want) {
		return fmt.Sprintf("dimensions %v, want %v", got, want)
	}
	for k, v := range m.Dims {
		if d.dims[k] != v {
			return fmt.Sprintf("dimension %s=%v, want %s", k, d.dims[k], v)
		}
	}
	if stage, ok := d.dims["Stage"]; ok && stage != s.cfg.StageName {
		return fmt.Sprintf("stage %v, want %s", stage, s.cfg.StageName)
	}
	return ""
}

// TestDashboardIsTheDefinition: the synthesized dashboard has the
// definition's widgets, in its rows and layout, each drawing exactly the
// definition's metrics with their statistics and labels.
func TestDashboardIsTheDefinition(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		def := s.stack.Observability.Definition
		widgets := dashboardWidgets(t, s)
		i, y := 0, 0
		for r, row := range def.Rows {
			x, height := 0, 0
			for _, w := range row {
				if i >= len(widgets) {
					t.Fatalf("the dashboard has %d widgets; the definition has more (row %d)", len(widgets), r)
				}
				got := widgets[i]
				i++
				p, _ := got["properties"].(map[string]any)
				name := w.Title + w.Text
				if got["x"] != float64(x) || got["y"] != float64(y) || got["width"] != float64(w.Width) || got["height"] != float64(w.Height) {
					t.Errorf("%q at (%v,%v) %vx%v, want (%d,%d) %dx%d", name, got["x"], got["y"], got["width"], got["height"], x, y, w.Width, w.Height)
				}
				x += w.Width
				height = max(height, w.Height)
				if w.Text != "" {
					if got["type"] != "text" || p["markdown"] != w.Text {
						t.Errorf("widget %d is %v %q, want the text %q", i, got["type"], p["markdown"], w.Text)
					}
					continue
				}
				if got["type"] != "metric" || p["title"] != w.Title {
					t.Errorf("widget %d is %v %q, want the graph %q", i, got["type"], p["title"], w.Title)
					continue
				}
				lines := drawnLines(t, got)
				if len(lines) != len(w.Metrics) {
					t.Errorf("%q draws %d lines, the definition %d", w.Title, len(lines), len(w.Metrics))
					continue
				}
				for j, m := range w.Metrics {
					if diff := lines[j].matches(s, m); diff != "" {
						t.Errorf("%q line %d: %s", w.Title, j, diff)
					}
				}
			}
			y += height
		}
		if i != len(widgets) {
			t.Errorf("the dashboard has %d widgets, the definition %d", len(widgets), i)
		}
	})
}

// TestAlarmsAreTheDefinition: every alarm of the definition, and no other,
// is in the template with its metric, statistic, period, threshold,
// comparison, evaluation periods, datapoints to alarm and missing-data
// treatment.
func TestAlarmsAreTheDefinition(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		def := s.stack.Observability.Definition
		alarms := s.resources("AWS::CloudWatch::Alarm")
		if len(alarms) != len(def.Alarms) {
			t.Errorf("%d alarms in the template, %d in the definition", len(alarms), len(def.Alarms))
		}
		for _, a := range def.Alarms {
			var p map[string]any
			for id, r := range alarms {
				if strings.HasPrefix(id, a.ID) && len(id) == len(a.ID)+8 { // CDK adds an 8-character hash
					p = props(r)
				}
			}
			if p == nil {
				t.Errorf("alarm %s is not in the template", a.ID)
				continue
			}
			want := map[string]any{
				"AlarmDescription":   s.cfg.StackName() + ": " + a.Description,
				"Threshold":          a.Threshold,
				"ComparisonOperator": string(a.Comparison),
				"EvaluationPeriods":  float64(a.EvaluationPeriods),
				"TreatMissingData":   string(a.TreatMissingData),
			}
			for k, v := range want {
				if p[k] != v {
					t.Errorf("alarm %s: %s = %v, want %v", a.ID, k, p[k], v)
				}
			}
			if got, ok := p["DatapointsToAlarm"]; ok && got != float64(a.Datapoints()) || !ok && a.Datapoints() != a.EvaluationPeriods {
				t.Errorf("alarm %s: DatapointsToAlarm %v, want %d", a.ID, got, a.Datapoints())
			}
			if diff := alarmMetric(p, a.Metric); diff != "" {
				t.Errorf("alarm %s: %s", a.ID, diff)
			}
		}
	})
}

// alarmMetric says how an alarm's metric differs from the definition's.
func alarmMetric(p map[string]any, m observability.Metric) string {
	period := observability.Period.Seconds()
	if m.Sum == nil && m.Math == nil {
		stat := p["Statistic"]
		if stat == nil {
			stat = p["ExtendedStatistic"]
		}
		if p["Namespace"] != m.Namespace || p["MetricName"] != m.Name || stat != m.Stat || p["Period"] != period {
			return fmt.Sprintf("%v/%v %v per %v s, want %s %s per %v s", p["Namespace"], p["MetricName"], stat, p["Period"], m.Key(), m.Stat, period)
		}
		var names []string
		for _, d := range p["Dimensions"].([]any) {
			names = append(names, d.(map[string]any)["Name"].(string))
		}
		want := slices.Concat(resourceDims[m.Namespace], slices.Collect(maps.Keys(m.Dims)))
		slices.Sort(want)
		slices.Sort(names)
		if !slices.Equal(names, want) {
			return fmt.Sprintf("dimensions %v, want %v", names, want)
		}
		return ""
	}
	metrics, _ := p["Metrics"].([]any)
	if len(metrics) == 0 {
		return "no metric math, want " + m.Key()
	}
	first := metrics[0].(map[string]any)
	expr, _ := first["Expression"].(string)
	if m.Sum != nil { // a Metrics Insights query
		if !strings.HasPrefix(expr, fmt.Sprintf("SELECT SUM(%s) FROM SCHEMA(\"%s\"", m.Name, m.Namespace)) || first["Period"] != period {
			return fmt.Sprintf("expression %q per %v s, want the sum of %s", expr, first["Period"], m.Key())
		}
		return ""
	}
	if m.Math == nil || expr != m.Math.Expression {
		return fmt.Sprintf("expression %q, want %s", expr, m.Key())
	}
	if len(metrics)-1 != len(m.Math.Parts) {
		return fmt.Sprintf("%d parts, the definition's expression reads %d", len(metrics)-1, len(m.Math.Parts))
	}
	for _, x := range metrics[1:] {
		x := x.(map[string]any)
		stat := x["MetricStat"].(map[string]any)
		metric := stat["Metric"].(map[string]any)
		if stat["Period"] != period {
			return fmt.Sprintf("part %v per %v s, want %v s", x["Id"], stat["Period"], period)
		}
		dims := map[string]any{}
		for _, d := range metric["Dimensions"].([]any) {
			d := d.(map[string]any)
			dims[d["Name"].(string)] = d["Value"]
		}
		id, _ := x["Id"].(string)
		ns, _ := metric["Namespace"].(string)
		name, _ := metric["MetricName"].(string)
		st, _ := stat["Stat"].(string)
		if diff := partDiff(id, ns, name, st, dims, m.Math); diff != "" {
			return diff
		}
	}
	return ""
}

// partDiff says how one deployed part of an expression differs from the
// definition's part of that ID ("" if not).
func partDiff(id, namespace, name, stat string, dims map[string]any, m *observability.Math) string {
	for _, p := range m.Parts {
		if p.ID != id {
			continue
		}
		if namespace != p.Metric.Namespace || name != p.Metric.Name || stat != p.Metric.Stat {
			return fmt.Sprintf("part %s is %s/%s %s, want %s %s", id, namespace, name, stat, p.Metric.Key(), p.Metric.Stat)
		}
		want := slices.Concat(resourceDims[p.Metric.Namespace], slices.Collect(maps.Keys(p.Metric.Dims)))
		slices.Sort(want)
		if got := slices.Sorted(maps.Keys(dims)); !slices.Equal(got, want) {
			return fmt.Sprintf("part %s has dimensions %v, want %v", id, got, want)
		}
		for k, v := range p.Metric.Dims {
			if dims[k] != v {
				return fmt.Sprintf("part %s has %s=%v, want %s", id, k, dims[k], v)
			}
		}
		return ""
	}
	return fmt.Sprintf("part %q is not in the definition's expression %q", id, m.Expression)
}

// TestTableOperationsAreTheGrantedOnes: the definition's operations per
// table (its latency lines, its throttle and system-error sums, the local
// stack's series) are exactly the DynamoDB actions the handler is granted.
func TestTableOperationsAreTheGrantedOnes(t *testing.T) {
	for _, table := range contract.Tables() {
		var granted []string
		for _, op := range operations(table.ID) {
			granted = append(granted, opNames[op])
		}
		slices.Sort(granted)
		if got := slices.Sorted(slices.Values(observability.TableOperations[table.ID])); !slices.Equal(got, granted) {
			t.Errorf("%s: the definition watches %v, the handler is granted %v", table.ID, got, granted)
		}
	}
}

// TestPageHostingIsOnTheDashboardAndAlarmed: the Amplify app's metrics are
// drawn for this stack's app, and its 5xx errors alarm.
func TestPageHostingIsOnTheDashboardAndAlarmed(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		body := asJSON(props(s.resources("AWS::CloudWatch::Dashboard")[s.logicalID(cfnOf(s.stack.Observability.Dashboard))])["DashboardBody"])
		app := s.logicalID(s.stack.Hosting.App)
		for _, m := range []string{"Requests", "BytesDownloaded", "BytesUploaded", "4xxErrors", "5xxErrors", "Latency"} {
			if !strings.Contains(body, `[\"`+observability.NamespaceAmplify+`\",\"`+m+`\",\"`+observability.DimensionApp+`\",\"`) {
				t.Errorf("dashboard lacks %s of the Amplify app", m)
			}
		}
		if !strings.Contains(body, `"Fn::GetAtt":["`+app+`","AppId"]`) {
			t.Errorf("the dashboard's Amplify metrics are not this stack's app %s", app)
		}
		var found bool
		for _, a := range s.resources("AWS::CloudWatch::Alarm") {
			p := props(a)
			if p["Namespace"] == observability.NamespaceAmplify && p["MetricName"] == "5xxErrors" {
				found = true
				if !sameJSON(p["Dimensions"], []any{map[string]any{"Name": "App", "Value": map[string]any{"Fn::GetAtt": []any{app, "AppId"}}}}) {
					t.Errorf("the 5xx alarm watches %v", p["Dimensions"])
				}
			}
		}
		if !found {
			t.Error("no alarm on the Amplify app's 5xxErrors")
		}
	})
}
