package contract

// The function's own CloudWatch metrics, written as embedded metric format
// log lines. Every metric has the dimension Stage (the API stage name);
// MetricMessagesAccepted also comes with Stage and Route.
//
// Every recipient of a fan-out is counted once, in one of six metrics, so
// over any period
//
//	sum of FanoutSize = Deliveries + FailedDeliveries + StaleConnectionsRemoved
//	                  + GoneWhileConnecting + GoneAlreadyRemoved + StaleConnectionsLeft
//
// the last four splitting the deliveries answered 410 Gone by what became
// of the connection.
const (
	MetricNamespace           = "GroupChat"
	MetricDimensionStage      = "Stage"
	MetricDimensionRoute      = "Route"
	MetricMessagesAccepted    = "MessagesAccepted"        // Count: actions done, per route: connections, disconnections, hello/ping, renames, messages
	MetricDeliveries          = "Deliveries"              // Count: frames delivered by PostToConnection
	MetricFailedDeliveries    = "FailedDeliveries"        // Count: deliveries that failed for a reason other than 410 Gone, or were not sent by the deadline
	MetricStaleRemoved        = "StaleConnectionsRemoved" // Count: 410 Gone, and this invocation removed the connection's record
	MetricGoneWhileConnecting = "GoneWhileConnecting"     // Count: 410 Gone from a connection younger than the stale grace (API Gateway answers 410 while its $connect runs): kept, the frame lost
	MetricGoneAlreadyRemoved  = "GoneAlreadyRemoved"      // Count: 410 Gone from a connection the index still listed but whose record its $disconnect or another invocation had removed
	MetricStaleLeft           = "StaleConnectionsLeft"    // Count: 410 Gone whose removal was not done (it failed, the deadline came, the rounds ran out): a later broadcast or the TTL removes it
	MetricFanoutSize          = "FanoutSize"              // Count: recipients of one fan-out (a broadcast, a private message, a member list after stale removals, a reply)
	MetricFanoutDuration      = "FanoutDuration"          // Milliseconds: wall time of one fan-out
	MetricInternalErrors      = "InternalErrors"          // Count: actions answered with the "internal" error
	MetricRateLimited         = "RateLimited"             // Count: frames refused with rate_limited (neither stored nor delivered), and $connects past the account's connects per minute
	MetricFanoutShards        = "FanoutShards"            // Count: slices of a broadcast handed to other environments of the function (contract.FanoutShardSize)
	MetricShardInvokeErrors   = "ShardInvokeErrors"       // Count: shards whose asynchronous Invoke failed: the invoking function delivered them itself, later
	MetricSignUpsRefused      = "SignUpsRefused"          // Count: sign-ups the Pre sign-up trigger refused (a taken name, a username that is not a name): each is also a Lambda error, which the LambdaErrors alarm subtracts
)

// MetricLogLevel is the "level" of every metrics line. With the JSON log
// format, Lambda sends only the application log lines at or above the
// function's application log level, and gives a line without a level, or
// without a valid RFC 3339 "timestamp", the level INFO: at WARN or above,
// unlabelled metrics lines would be dropped before CloudWatch reads them.
// FATAL, the most severe of Lambda's levels, passes every level the function
// can be set to. The handler logs nothing else at FATAL, so in its log group
// FATAL means "a metrics line".
const MetricLogLevel = "FATAL"
