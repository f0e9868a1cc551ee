package local

import (
	"net/http"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/local/ddbproxy"
	"github.com/groupchat/groupchat/local/gateway"
	"github.com/groupchat/groupchat/local/metrics"
	"github.com/groupchat/groupchat/observability"
)

// startMetrics sets up the stack's local CloudWatch: the definition for
// this stack, a store fed by the gateway (API Gateway, Lambda and the
// page's hosting), the DynamoDB proxy (DynamoDB) and, through the chat's
// metrics writer, the handler's EMF lines; the alarms' evaluator and the
// dashboard. The gateway's config gets its metric sink.
func (s *Stack) startMetrics(o Options, gw *gateway.Config) {
	timeout := gw.HandlerTimeout
	if timeout <= 0 {
		timeout = gateway.DefaultHandlerTimeout
	}
	s.Observability = observability.Define(observability.Env{Stage: gw.Stage, SignIn: s.Cognito != nil, FunctionTimeout: timeout})
	period := o.Metrics.Period
	if period <= 0 {
		period = s.Observability.Period
	}
	s.Metrics = metrics.NewStore(o.Metrics.Now, 0)
	s.Alarms = metrics.NewEvaluator(s.Metrics, s.Observability.Alarms, period)
	s.Dashboard = metrics.NewDashboard(s.Observability, s.Metrics, s.Alarms)
	if o.Metrics.Now == nil {
		// As CloudWatch does, evaluate on a schedule, not only when the
		// dashboard asks: an "ignore" alarm's state and the transitions
		// depend on every evaluation.
		s.evalStop = make(chan struct{})
		go evaluateEvery(s.Alarms, min(period, 10*time.Second), s.evalStop)
	}
	gw.Metric = func(namespace, name string, v float64) { s.Metrics.Put(namespace, name, nil, v) }
	ids := map[string]string{s.Tables.Connections: contract.Connections.ID, s.Tables.Messages: contract.Messages.ID}
	s.DynamoDBProxy.SetObserver(func(ob ddbproxy.Observation) { s.observeDynamoDB(ids[ob.Table], ob) })
}

// observeDynamoDB counts one DynamoDB request as DynamoDB counts it per
// table and operation: SuccessfulRequestLatency for a success,
// SystemErrors for a 500 (or no answer at all), ThrottledRequests for a
// throttle; the error metrics get a 0 for every other request, so that an
// alarm on them sees data and returns to OK once DynamoDB is back.
func (s *Stack) observeDynamoDB(table string, ob ddbproxy.Observation) {
	if table == "" || ob.Canceled {
		return // a batch operation, a table that is not the chat's, or a request its client gave up on
	}
	dims := map[string]string{observability.DimensionTableName: table, observability.DimensionOperation: ob.Op}
	ns := observability.NamespaceDynamoDB
	failed := ob.Status == 0 || ob.Status >= http.StatusInternalServerError
	s.Metrics.Put(ns, "SystemErrors", dims, boolValue(failed))
	s.Metrics.Put(ns, "ThrottledRequests", dims, boolValue(ob.Throttled))
	if ob.Status == http.StatusOK {
		s.Metrics.Put(ns, "SuccessfulRequestLatency", dims, float64(ob.Took.Microseconds())/1000)
	}
}

func evaluateEvery(e *metrics.Evaluator, every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			e.Evaluate()
		case <-stop:
			return
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
