package stack

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
)

// dashboardWidgets returns the dashboard's widgets, the body's tokens (region
// and the like) replaced by a placeholder so that it parses.
func dashboardWidgets(t *testing.T, s *synthesized) []map[string]any {
	t.Helper()
	body := props(s.resources("AWS::CloudWatch::Dashboard")[s.logicalID(cfnOf(s.stack.Observability.Dashboard))])["DashboardBody"]
	var text strings.Builder
	switch b := body.(type) {
	case string:
		text.WriteString(b)
	case map[string]any: // {"Fn::Join": ["", [parts...]]}
		for _, part := range b["Fn::Join"].([]any)[1].([]any) {
			if p, ok := part.(string); ok {
				text.WriteString(p)
			} else {
				text.WriteString("TOKEN")
			}
		}
	default:
		t.Fatalf("dashboard body %s", asJSON(body))
	}
	var doc struct{ Widgets []map[string]any }
	if err := json.Unmarshal([]byte(text.String()), &doc); err != nil {
		t.Fatalf("dashboard body is not JSON: %v\n%s", err, text.String())
	}
	return doc.Widgets
}

// graphedMetric is one line of a graph: the handler's metric and its statistic.
type graphedMetric struct{ name, stat string }

// ownMetrics lists the handler's metrics a graph widget draws.
func ownMetrics(w map[string]any) []graphedMetric {
	p, _ := w["properties"].(map[string]any)
	lines, _ := p["metrics"].([]any)
	var out []graphedMetric
	for _, l := range lines {
		parts, _ := l.([]any)
		if len(parts) < 2 || parts[0] != contract.MetricNamespace {
			continue
		}
		m := graphedMetric{name: parts[1].(string)}
		if opts, ok := parts[len(parts)-1].(map[string]any); ok {
			m.stat, _ = opts["stat"].(string)
		}
		out = append(out, m)
	}
	return out
}

// The outcomes of a fan-out's deliveries are graphed together with the
// recipients they add up to (contract.MetricFanoutSize).
func TestDashboardGraphsEveryDeliveryOutcomeBesideTheRecipients(t *testing.T) {
	want := []graphedMetric{
		{contract.MetricFanoutSize, "Sum"},
		{contract.MetricDeliveries, "Sum"},
		{contract.MetricFailedDeliveries, "Sum"},
		{contract.MetricStaleRemoved, "Sum"},
		{contract.MetricGoneWhileConnecting, "Sum"},
		{contract.MetricGoneAlreadyRemoved, "Sum"},
		{contract.MetricStaleLeft, "Sum"},
	}
	each(t, func(t *testing.T, s *synthesized) {
		var found bool
		for _, w := range dashboardWidgets(t, s) {
			got := ownMetrics(w)
			if !slices.Contains(got, graphedMetric{contract.MetricGoneWhileConnecting, "Sum"}) {
				continue
			}
			found = true
			for _, m := range want {
				if !slices.Contains(got, m) {
					t.Errorf("the graph of %s lacks %s (%s); it has %v", contract.MetricGoneWhileConnecting, m.name, m.stat, got)
				}
			}
		}
		if !found {
			t.Errorf("no graph shows %s", contract.MetricGoneWhileConnecting)
		}
	})
}

// Lambda's application log levels, least severe first.
var lambdaLogLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// With the JSON log format Lambda drops application log lines below the
// function's application log level (INFO when unset); the metrics lines'
// level must pass the level set, and any level that could be set.
func TestMetricsLinesPassTheFunctionsApplicationLogLevel(t *testing.T) {
	if most := lambdaLogLevels[len(lambdaLogLevels)-1]; contract.MetricLogLevel != most {
		t.Errorf("metrics lines at %s: an application log level of %s would drop them", contract.MetricLogLevel, most)
	}
	each(t, func(t *testing.T, s *synthesized) {
		fn := props(s.resources("AWS::Lambda::Function")[s.logicalID(cfnOf(s.stack.Compute.Function))])
		logging, _ := fn["LoggingConfig"].(map[string]any)
		if logging["LogFormat"] != "JSON" {
			return // plain text: Lambda filters nothing
		}
		level, _ := logging["ApplicationLogLevel"].(string)
		if level == "" {
			level = "INFO"
		}
		app, metrics := slices.Index(lambdaLogLevels, level), slices.Index(lambdaLogLevels, contract.MetricLogLevel)
		if app < 0 || metrics < 0 || metrics < app {
			t.Errorf("metrics lines at %s, the function's application log level %s: Lambda would drop them", contract.MetricLogLevel, level)
		}
	})
}
