package contract

// The function's own CloudWatch metrics, written as embedded metric format
// log lines. Every metric has the dimension Stage (the API stage name);
// MetricMessagesAccepted also comes with Stage and Route.
const (
	MetricNamespace        = "GroupChat"
	MetricDimensionStage   = "Stage"
	MetricDimensionRoute   = "Route"
	MetricMessagesAccepted = "MessagesAccepted"        // Count: actions done, per route: connections, disconnections, hello/ping, renames, messages
	MetricDeliveries       = "Deliveries"              // Count: frames delivered by PostToConnection
	MetricFailedDeliveries = "FailedDeliveries"        // Count: deliveries that failed for a reason other than 410 Gone
	MetricStaleRemoved     = "StaleConnectionsRemoved" // Count: connections removed after 410 Gone
	MetricFanoutSize       = "FanoutSize"              // Count: recipients of one broadcast
	MetricFanoutDuration   = "FanoutDuration"          // Milliseconds: wall time of one broadcast
	MetricInternalErrors   = "InternalErrors"          // Count: actions answered with the "internal" error
)
