package observability

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/groupchat/groupchat/contract"
)

// AuthFailuresThreshold is the refused connections per 5 minutes that make
// a spike. A page renews its ID token before it connects, so a refusal is
// the exception: a token that expired while a laptop slept, a disabled
// account, a clock far off. One refusal every 15 s, sustained for five
// minutes, is no longer that: a page release that sends bad tokens, or
// someone trying forged or stolen ones (the access log's ip says who).
// A connection without a token at all is refused by API Gateway without
// calling the function (the identity source is missing), so it is not
// counted here; the stage's ClientError shows those.
const AuthFailuresThreshold = 20

// AsyncEventAgeThresholdMs: a fan-out shard runs within milliseconds of its
// Invoke when the function has concurrency to spare; five seconds of
// waiting is a big room's slice delivered that late.
const AsyncEventAgeThresholdMs = 5000

// Define returns the dashboard and the alarms of an environment.
func Define(e Env) Definition {
	if e.FunctionTimeout <= 0 {
		e.FunctionTimeout = contract.FunctionTimeout
	}
	d := Definition{Period: Period}
	d.Rows = dashboard(e)
	d.Alarms = alarms(e)
	return d
}

func api(name, stat string) Metric { return Metric{Namespace: NamespaceAPI, Name: name, Stat: stat} }

func lambda(name, stat string) Metric {
	return Metric{Namespace: NamespaceLambda, Name: name, Stat: stat}
}

// own is one of the handler's metrics, over every route.
func own(name, stat string) Metric { return Metric{Namespace: NamespaceChat, Name: name, Stat: stat} }

func table(id, name, stat string) Metric {
	return Metric{Namespace: NamespaceDynamoDB, Name: name, Stat: stat, Table: id}
}

// deadLetters is the settle queue's dead-letter queue's metric (bound to
// that queue).
func deadLetters(name, stat string) Metric {
	return Metric{Namespace: NamespaceSQS, Name: name, Stat: stat}
}

func amplify(name, stat string) Metric {
	return Metric{Namespace: NamespaceAmplify, Name: name, Stat: stat}
}

// perOperation is a table's metric summed over the operations the handler
// calls on it: metric math over one metric per operation, each part named
// by its operation in lower case (as CDK's *ForOperations named them, so
// the deployed parts kept their IDs) and labelled as CDK labelled the sum.
//
// Each part is FILL(part, 0): DynamoDB reports an error metric only in a
// period with errors, and AWS's documentation leaves open both whether
// `a + b` has a value when b has none and whether such an alarm ignores
// missing data as every AWS/DynamoDB alarm does. Under the strict reading
// CDK's plain `a + b + …` fired only when every operation erred in the same
// period, and kept its state for good once none did; filled, the sum is the
// errors of whichever operations erred and 0 otherwise, under every reading
// (TestEveryAlarmFiresOnItsFaultAndClearsUnderEveryReading, local/metrics).
func perOperation(id, name, label string) Metric {
	m := table(id, name, Sum)
	m.Label = label
	m.Math = &Math{}
	var terms []string
	for _, op := range TableOperations[id] {
		part := table(id, name, Sum)
		part.Dims = map[string]string{DimensionOperation: op}
		p := Part{ID: strings.ToLower(op), Metric: part}
		m.Math.Parts = append(m.Math.Parts, p)
		terms = append(terms, "FILL("+p.ID+", 0)")
	}
	m.Math.Expression = strings.Join(terms, " + ")
	return m
}

func throttles(id string) Metric {
	return perOperation(id, "ThrottledRequests", "Sum of throttled requests across all operations")
}

func systemErrors(id string) Metric {
	return perOperation(id, "SystemErrors", "Sum of errors across all operations")
}

// lambdaErrors is the function's Errors; with sign-in, less the sign-ups
// its Pre sign-up trigger refused (contract.MetricSignUpsRefused), each of
// which is an error to Lambda: the only way a trigger refuses. Both parts
// are FILL(part, 0), as perOperation's: a period with errors and no
// refusal, or neither, has a value under every reading.
func lambdaErrors(e Env) Metric {
	m := lambda("Errors", Sum)
	if !e.SignIn {
		return m
	}
	m.Label = "Errors but refused sign-ups"
	m.Math = &Math{Expression: "FILL(errors, 0) - FILL(refused, 0)", Parts: []Part{
		{ID: "errors", Metric: lambda("Errors", Sum)},
		{ID: "refused", Metric: own(contract.MetricSignUpsRefused, Sum)},
	}}
	return m
}

// authFailures is contract.MetricAuthFailures summed over every reason (or
// one line per reason): the function writes it with Stage and Reason, and
// a sum over whatever reasons exist counts a new one without a change here.
func authFailures(byReason bool) Metric {
	m := own(contract.MetricAuthFailures, Sum)
	m.Sum = &SumOver{Dimension: contract.MetricDimensionReason, GroupBy: byReason}
	return m
}

func labelled(m Metric, label string) Metric { m.Label = label; return m }

func title(s string) Widget { return Widget{Text: "## " + s, Width: 24, Height: 1} }

func graph(t string, metrics ...Metric) Widget {
	return Widget{Title: t, Metrics: metrics, Width: 6, Height: 6}
}

func dashboard(e Env) []Row {
	rows := []Row{
		{title("WebSocket API (stage " + e.Stage + ")")},
		{graph("Connections and messages", api("ConnectCount", Sum), api("MessageCount", Sum)),
			graph("Errors", api("IntegrationError", Sum), api("ClientError", Sum), api("ExecutionError", Sum)),
			graph("Integration latency (ms)", api("IntegrationLatency", P50), api("IntegrationLatency", P99))},
		{title("Lambda handler")},
		{graph("Invocations, errors, throttles", lambda("Invocations", Sum), lambda("Errors", Sum), lambda("Throttles", Sum)),
			graph("Duration (ms)", lambda("Duration", P50), lambda("Duration", P99)),
			graph("Concurrent executions", lambda("ConcurrentExecutions", Maximum)),
			graph("Settle dead letters", deadLetters("ApproximateNumberOfMessagesVisible", Maximum))},
		{graph("Fan-out shards (a big room's slices, each an asynchronous Invoke)", own(contract.MetricFanoutShards, Sum),
			own(contract.MetricShardInvokeErrors, Sum)),
			graph("Asynchronous events: age (ms)", lambda("AsyncEventAge", Maximum)),
			graph("Asynchronous events dropped", lambda("AsyncEventsDropped", Sum))},
		{title("DynamoDB")},
	}
	for _, t := range contract.Tables() {
		rows = append(rows, tableRow(t.ID))
	}
	rows = append(rows, Row{title("Chat (the handler's own metrics, namespace " + contract.MetricNamespace + ")")}, chatRow())
	if e.SignIn {
		rows = append(rows, signInRow())
	}
	rows = append(rows, Row{title("Page hosting (Amplify app, namespace " + NamespaceAmplify + ")")}, pageRow())
	return rows
}

// tableRow is one table's capacity, throttles, system errors and latency.
func tableRow(id string) Row {
	var latency []Metric
	for _, op := range TableOperations[id] {
		m := table(id, "SuccessfulRequestLatency", P99)
		m.Dims = map[string]string{DimensionOperation: op}
		latency = append(latency, labelled(m, op+" p99"))
	}
	return Row{
		graph(id+" consumed capacity", table(id, "ConsumedReadCapacityUnits", Sum), table(id, "ConsumedWriteCapacityUnits", Sum)),
		// Two graphs: both sums name their parts by operation.
		graph(id+" throttled requests", throttles(id)),
		graph(id+" system errors", systemErrors(id)),
		graph(id+" latency (ms)", latency...),
	}
}

// chatRow is the handler's own metrics: actions per route, what became of
// every recipient of a fan-out, fan-out size and duration.
func chatRow() Row {
	// The handler writes MessagesAccepted with Stage and Route only: one line per route.
	var accepted []Metric
	for _, r := range contract.Routes() {
		m := own(contract.MetricMessagesAccepted, Sum)
		m.Dims = map[string]string{contract.MetricDimensionRoute: r.Key}
		accepted = append(accepted, labelled(m, r.Key))
	}
	accepted = append(accepted, labelled(own(contract.MetricInternalErrors, Sum), "internal errors"),
		labelled(own(contract.MetricRateLimited, Sum), "refused: rate limited"))
	// Every recipient is counted in exactly one outcome, so the outcomes add
	// up to the recipients line (contract.MetricFanoutSize).
	recipients := []Metric{labelled(own(contract.MetricFanoutSize, Sum), "recipients (sum of FanoutSize)")}
	for _, o := range []struct{ metric, label string }{
		{contract.MetricDeliveries, "delivered"},
		{contract.MetricFailedDeliveries, "failed"},
		{contract.MetricStaleRemoved, "410: stale, removed"},
		{contract.MetricGoneWhileConnecting, "410: still connecting, kept"},
		{contract.MetricGoneAlreadyRemoved, "410: already removed"},
		{contract.MetricStaleLeft, "410: stale, left for later"},
	} {
		recipients = append(recipients, labelled(own(o.metric, Sum), o.label))
	}
	return Row{graph("Actions accepted per route, internal errors, rate-limited frames", accepted...),
		graph("Recipients and what became of them", recipients...),
		graph("Fan-out size", own(contract.MetricFanoutSize, Average), own(contract.MetricFanoutSize, Maximum)),
		graph("Fan-out duration (ms)", own(contract.MetricFanoutDuration, P50), own(contract.MetricFanoutDuration, P99))}
}

// signInRow is the connections the $connect authorizer refused, in all and
// per reason, beside the connections made and the stage's client errors
// (which count the connections refused without a token, the function never
// asked).
func signInRow() Row {
	total := labelled(authFailures(false), "refused, all reasons (alarm at "+fmt.Sprint(AuthFailuresThreshold)+")")
	return Row{graph("Sign-in: connections refused ("+contract.MetricAuthFailures+")", total, authFailures(true)),
		graph("Sign-in: connections made, client errors", api("ConnectCount", Sum), api("ClientError", Sum))}
}

// pageRow is the Amplify app that serves the page: requests, errors, bytes
// and time to first byte (Amplify reports Latency in seconds).
func pageRow() Row {
	return Row{
		graph("Page requests", amplify("Requests", Sum)),
		graph("Page errors", amplify("4xxErrors", Sum), amplify("5xxErrors", Sum)),
		graph("Page bytes", amplify("BytesDownloaded", Sum), amplify("BytesUploaded", Sum)),
		graph("Page time to first byte (s)", amplify("Latency", Average), amplify("Latency", Maximum)),
	}
}

// ge is the alarm every definition below uses: one period at or above the
// threshold fires, missing data does not.
func ge(id, what string, m Metric, threshold float64, why string) Alarm {
	return Alarm{ID: id, Description: what, Metric: m, Threshold: threshold, Comparison: GreaterThanOrEqual,
		EvaluationPeriods: 1, TreatMissingData: NotBreaching, Why: why}
}

func alarms(e Env) []Alarm {
	timeoutMs := float64(e.FunctionTimeout.Milliseconds())
	out := []Alarm{
		ge("LambdaErrors", "the handler failed invocations", lambdaErrors(e), 1,
			"The handler answers every failure it expects with a frame or a status; an invocation that fails (a timeout, a crash) is a bug or an outage the user saw as API Gateway's \"Internal server error\". With sign-in, the sign-ups the Pre sign-up trigger refused are subtracted: Cognito refuses a sign-up only through the trigger's error, which Lambda counts as one."),
		ge("LambdaThrottles", "the handler was throttled", lambda("Throttles", Sum), 1,
			"A throttle is an invocation the account's concurrency refused: a frame API Gateway could not deliver to the function (its sender saw an error), a sign-up's trigger, or an attempt of a fan-out shard or a settle batch, which Lambda tries again (later, not lost). Any means the concurrency is exhausted."),
		ge("LambdaDurationP99", "p99 duration is above 80% of the timeout", lambda("Duration", P99), 0.8*timeoutMs,
			fmt.Sprintf("80%% of the function's %g s timeout (API Gateway's integration timeout is 29 s): the slowest invocations are about to be cut.", e.FunctionTimeout.Seconds())),
		// $connect answers 400 to an invalid room by design, so a few integration
		// errors are normal; five in five minutes are not.
		ge("ApiIntegrationErrors", "integration errors on the WebSocket API", api("IntegrationError", Sum), 5,
			"$connect answers 400 to an invalid room by design, so a few integration errors are normal; five in a period are not."),
		ge("ApiExecutionErrors", "execution errors on the WebSocket API", api("ExecutionError", Sum), 1,
			"API Gateway could not call the function at all: any is an outage."),
	}
	for _, t := range contract.Tables() {
		out = append(out,
			ge(t.ID+"Throttles", t.ID+" table throttled requests", throttles(t.ID), 1,
				"On-demand tables throttle only past their account or partition limits: any throttle lost a request."),
			ge(t.ID+"SystemErrors", t.ID+" table system errors", systemErrors(t.ID), 1,
				"DynamoDB answered 500: the SDK retries, but each one is a request DynamoDB failed."))
	}
	out = append(out,
		ge("FailedDeliveries", "PostToConnection failed for a reason other than 410 Gone", own(contract.MetricFailedDeliveries, Sum), 1,
			"A frame that did not reach a connected recipient (a 410 is a departed one and is counted apart): any is a message lost."),
		ge("InternalErrors", "actions were answered with the internal error", own(contract.MetricInternalErrors, Sum), 1,
			"An action answered \"internal\" failed for the user (the storage or the management API failed under it)."))
	out = append(out,
		ge("ShardInvokeErrors", "the function could not hand a fan-out shard to another environment", own(contract.MetricShardInvokeErrors, Sum), 1,
			"A big room's slice whose asynchronous Invoke of the function failed (throttled, refused): the invoking function delivered it itself, seconds later than the rest of the room (docs/design.md, Fan-out shards)."),
		ge("AsyncEventsDropped", "fan-out shards were dropped", lambda("AsyncEventsDropped", Sum), 1,
			"A shard that failed three times or waited past its minute (MaximumEventAge): its slice of a big room did not get a frame until the page's next hello."),
		ge("AsyncEventAge", "fan-out shards waited to run", lambda("AsyncEventAge", Maximum), AsyncEventAgeThresholdMs,
			"A shard queued this long reached its slice of the room that much later than the rest: the function's concurrency is short (throttled shards wait)."))
	out = append(out, ge("SettleDeadLetters", "settle messages reached the dead-letter queue",
		deadLetters("ApproximateNumberOfMessagesVisible", Maximum), 1,
		"A settle message the function failed five times: a big room's pages were not told its count (docs/design.md, The page converges); the message says which room."))
	if e.SignIn {
		out = append(out, ge("AuthFailures", "connections refused at sign-in, every reason together, spiked", authFailures(false), AuthFailuresThreshold,
			"One refusal every 15 s for five minutes: a page release sending bad tokens, or forged or stolen ones (docs/auth.md)."))
	}
	out = append(out, ge("Page5xxErrors", "the page's hosting answered 5xx", amplify("5xxErrors", Sum), 5,
		"The page is static files behind Amplify's CDN, so a 5xx is Amplify's own failure, never the chat's; a single one can be a transient edge error the browser retries, five in five minutes are people who could not load the page."))
	return out
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
