package contract

// Fan-out shards (docs/design.md, Fan-out shards): a broadcast to more than
// FanoutShardSize connections delivers the first FanoutShardSize itself and
// hands the rest, in slices, to other environments of the same function by
// an asynchronous Invoke of itself (InvocationType Event). The event is one
// JSON object with the single top-level key ShardEventKey, whose value is a
// ShardEvent; as with OperatorEventKey, neither API Gateway nor Cognito can
// send that key, and only the function's own role may invoke it.
const ShardEventKey = "groupchatShard"

// FanoutShardSize is the most connections one invocation delivers a
// broadcast to: about 1,000 × 74 µs of CPU (docs/benchmarks.md) is 0.26 s
// on 512 MB's 0.29 vCPU, and 1,000 × 20 ms over a pool of 128 is 0.16 s of
// waiting, so ten shards deliver a room of 10,000 inside 1.5 s
// (docs/costs.md has what the shards cost).
const FanoutShardSize = 1000

// MaxShardEventBytes bounds a shard event's JSON: Lambda takes an
// asynchronous event of at most 256 KB, and a shard carries its frame (at
// most 128 KB, 171 KB in base64) and its connections, fewer than
// FanoutShardSize when the frame is big.
const MaxShardEventBytes = 250 << 10

// ShardEvent is the value of a shard event's ShardEventKey.
type ShardEvent struct {
	// Room is the room broadcast to; Frame the frame every member of the
	// slice gets (base64 in the JSON).
	Room  string `json:"room"`
	Frame []byte `json:"frame"`
	// Shard and Of: this slice's number (from 1; the invoking function
	// delivered slice 0) and how many there are, for the logs.
	Shard int `json:"shard"`
	Of    int `json:"of"`
	// Members are the slice's connections.
	Members []ShardMember `json:"members"`
}

// ShardMember is one connection of a shard: what a delivery needs, and what
// the removal of a connection found gone (410) needs.
type ShardMember struct {
	ConnID   string `json:"c"`
	Name     string `json:"n,omitempty"`
	Username string `json:"u,omitempty"`
}

// The variables that let the function invoke itself: Lambda sets
// EnvFunctionName in every function's environment; EnvLambdaEndpoint
// overrides the Lambda API's endpoint (local stack only). Without a
// function name a broadcast is never sharded.
// EnvFanoutShardSize overrides FanoutShardSize (a positive whole number):
// the local stack's tests shard a room of a few.
const (
	EnvFunctionName    = "AWS_LAMBDA_FUNCTION_NAME"
	EnvLambdaEndpoint  = "LAMBDA_ENDPOINT"
	EnvFanoutShardSize = "FANOUT_SHARD_SIZE"
)
