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
	// EnvDynamoDBEndpoint overrides the DynamoDB endpoint (local stack only).
	EnvDynamoDBEndpoint = "DYNAMODB_ENDPOINT"
)

// EnvFrontendWSURL is the variable Amplify's build of frontend/ reads: the
// stage's wss:// URL, written into the page's runtime config (config.json).
const EnvFrontendWSURL = "GROUPCHAT_WS_URL"
