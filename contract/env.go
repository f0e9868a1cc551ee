package contract

// Environment variables the stack sets on the function and the local stack
// sets in-process. The function reads them once, at init.
const (
	EnvConnectionsTable = "CONNECTIONS_TABLE"
	EnvMessagesTable    = "MESSAGES_TABLE"
	// EnvManagementEndpoint is the https URL of the stage's @connections API
	// (the stage's callback URL).
	EnvManagementEndpoint = "MANAGEMENT_ENDPOINT"
	// EnvFanoutPoolSize bounds concurrent PostToConnection calls per invocation.
	EnvFanoutPoolSize = "FANOUT_POOL_SIZE"
	// EnvMessageRetentionDays is how long the message log keeps a record.
	EnvMessageRetentionDays = "MESSAGE_RETENTION_DAYS"
	// EnvRateLimitMessages and EnvRateLimitWindowSeconds: a person's budget,
	// that many units in any window of that many seconds; each action draws
	// its Cost (protocol.go: a message costs one unit).
	EnvRateLimitMessages      = "RATE_LIMIT_MESSAGES"
	EnvRateLimitWindowSeconds = "RATE_LIMIT_WINDOW_SECONDS"
	// EnvMaxDevices is how many connections an account may hold at once
	// (sign-in on); the next $connect is refused with too_many_devices.
	EnvMaxDevices = "MAX_DEVICES_PER_ACCOUNT"
	// EnvMaxConnectsPerMinute is how many $connects an account may make in
	// any minute (sign-in on); the next is let in with nothing recorded and
	// its hello answered rate_limited.
	EnvMaxConnectsPerMinute = "MAX_CONNECTS_PER_MINUTE"
	// EnvDynamoDBEndpoint overrides the DynamoDB endpoint (local stack only).
	EnvDynamoDBEndpoint = "DYNAMODB_ENDPOINT"
	// EnvSettleQueueURL is the settle queue's URL (docs/design.md, The page
	// converges): the function sends its delayed settle messages there.
	// Unset: no settle timer.
	EnvSettleQueueURL = "SETTLE_QUEUE_URL"
	// EnvSQSEndpoint overrides the SQS endpoint (local stack only).
	EnvSQSEndpoint = "SQS_ENDPOINT"
)

// The fan-out pool's size (EnvFanoutPoolSize), chosen by measurement
// (docs/benchmarks.md, "Fan-out concurrency"; scripts/bench.sh sweep). At
// 20 ms per management API call the default reaches a room of 1,000 in 8
// rounds (160 ms) where 32 took 32 (625 ms), and makes at most 128 / 20 ms =
// 6,400 calls/s, within API Gateway's account quota of 10,000 requests/s;
// its keep-alive sockets stay well within Lambda's 1,024 file descriptors.
const (
	DefaultFanoutPoolSize = 128
	MaxFanoutPoolSize     = 256
)

// EnvFrontendWSURL is the variable Amplify's build of frontend/ reads: the
// stage's wss:// URL, written into the page's runtime config (config.json).
const EnvFrontendWSURL = "GROUPCHAT_WS_URL"
