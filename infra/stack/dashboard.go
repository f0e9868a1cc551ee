// Dashboard: one CloudWatch dashboard per environment, the rows of the
// definition (package observability): a section per part of the chat (API,
// Lambda, DynamoDB, the handler's own metrics, sign-in, the page's hosting),
// 5-minute periods.
package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/observability"
)

func newDashboard(scope constructs.Construct, m monitored, def []observability.Row) awscloudwatch.Dashboard {
	rows := make([]*[]awscloudwatch.IWidget, 0, len(def))
	for _, r := range def {
		row := make([]awscloudwatch.IWidget, 0, len(r))
		for _, w := range r {
			row = append(row, m.widget(w))
		}
		rows = append(rows, &row)
	}
	return awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(m.cfg.StackName()),
		Widgets:       &rows,
	})
}

// widget is a text widget or a graph of the definition's metrics.
func (m monitored) widget(w observability.Widget) awscloudwatch.IWidget {
	if w.Text != "" {
		return awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{Markdown: jsii.String(w.Text),
			Width: jsii.Number(w.Width), Height: jsii.Number(w.Height)})
	}
	metrics := make([]awscloudwatch.IMetric, len(w.Metrics))
	for i, om := range w.Metrics {
		metrics[i] = m.metric(om)
	}
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(w.Title), Left: &metrics,
		Width: jsii.Number(w.Width), Height: jsii.Number(w.Height)})
}
