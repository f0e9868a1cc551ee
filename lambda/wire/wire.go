// Package wire builds the chat service from configuration: the one place that
// turns environment variables into clients and adapters, shared by the Lambda
// (lambda/main.go) and the local stack, so both run the same code.
package wire

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/auth"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/lambda/mgmt"
)

// dynamoRequestTimeout bounds one DynamoDB HTTP request; a healthy one
// takes milliseconds.
const dynamoRequestTimeout = 3 * time.Second

// Config is the function's configuration, read once at init.
type Config struct {
	Tables dynamo.Names
	// ManagementEndpoint is the @connections API's base URL (the stage's
	// callback URL), required.
	ManagementEndpoint string
	// DynamoDBEndpoint overrides DynamoDB's endpoint; empty on AWS.
	DynamoDBEndpoint string
	// PoolSize bounds concurrent deliveries per broadcast. Default: the
	// chat's (chat.Options.PoolSize).
	PoolSize int
	// MessageRetention is the message log's TTL. Default 30 days.
	MessageRetention time.Duration
	// RateLimit is the per-person limit. Default: the chat's
	// (chat.DefaultRateLimit); each field only when set.
	RateLimit chat.RateLimit
	// MaxDevices is how many connections an account may hold at once.
	// Default: the chat's (chat.DefaultMaxDevices).
	MaxDevices int
	// MaxConnectsPerMinute is how many $connects an account may make in
	// any minute. Default: the chat's (chat.DefaultConnectLimit).
	MaxConnectsPerMinute int
	// SettleQueueURL is the settle queue (EnvSettleQueueURL); "" : no
	// settle timer. SQSEndpoint overrides SQS's endpoint (local only).
	SettleQueueURL, SQSEndpoint string
	// FunctionName is this function's (contract.EnvFunctionName, which
	// Lambda sets): a broadcast bigger than a shard is handed in slices to
	// other environments of it (chat.Options.Shards); "" : never.
	// LambdaEndpoint overrides the Lambda API's endpoint (local only).
	FunctionName, LambdaEndpoint string
	// ShardSize is the most connections one invocation delivers a
	// broadcast to. Default: the chat's (contract.FanoutShardSize).
	ShardSize int
	// Auth is the sign-in verifier's pool, app client and key set URL.
	// Default: an empty Issuer, sign-in off.
	Auth auth.Config
}

// ConfigFromEnv reads Config from the variables named in contract. Its
// errors name the variables and what is wrong, never their values: on
// Lambda they become the init error the console shows (lambda/runtimeapi).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		Tables:             dynamo.Names{Connections: getenv(contract.EnvConnectionsTable), Messages: getenv(contract.EnvMessagesTable)},
		ManagementEndpoint: getenv(contract.EnvManagementEndpoint),
		DynamoDBEndpoint:   getenv(contract.EnvDynamoDBEndpoint),
		SettleQueueURL:     getenv(contract.EnvSettleQueueURL),
		SQSEndpoint:        getenv(contract.EnvSQSEndpoint),
		FunctionName:       getenv(contract.EnvFunctionName),
		LambdaEndpoint:     getenv(contract.EnvLambdaEndpoint),
	}
	var errs []error
	required := func(name, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is not set", name))
		}
	}
	required(contract.EnvConnectionsTable, cfg.Tables.Connections)
	required(contract.EnvMessagesTable, cfg.Tables.Messages)
	required(contract.EnvManagementEndpoint, cfg.ManagementEndpoint)
	if cfg.LambdaEndpoint != "" {
		if u, err := url.Parse(cfg.LambdaEndpoint); err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s is not a URL with a host", contract.EnvLambdaEndpoint))
		}
	}
	if cfg.SettleQueueURL != "" {
		if u, err := url.Parse(cfg.SettleQueueURL); err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s is not a URL with a host", contract.EnvSettleQueueURL))
		}
	}
	if cfg.ManagementEndpoint != "" {
		if u, err := url.Parse(cfg.ManagementEndpoint); err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s is not a URL with a host", contract.EnvManagementEndpoint))
		}
	}
	positive := func(name string) int {
		v := getenv(name)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive whole number", name))
		}
		return n
	}
	cfg.PoolSize = positive(contract.EnvFanoutPoolSize)
	if cfg.PoolSize > contract.MaxFanoutPoolSize {
		// Each concurrent delivery holds a socket; Lambda allows 1,024
		// file descriptors in all.
		errs = append(errs, fmt.Errorf("%s must be at most %d", contract.EnvFanoutPoolSize, contract.MaxFanoutPoolSize))
	}
	cfg.ShardSize = positive(contract.EnvFanoutShardSize)
	cfg.MessageRetention = time.Duration(positive(contract.EnvMessageRetentionDays)) * 24 * time.Hour
	cfg.RateLimit.Limit = positive(contract.EnvRateLimitMessages)
	cfg.RateLimit.Window = time.Duration(positive(contract.EnvRateLimitWindowSeconds)) * time.Second
	cfg.MaxDevices = positive(contract.EnvMaxDevices)
	cfg.MaxConnectsPerMinute = positive(contract.EnvMaxConnectsPerMinute)
	cfg.Auth, errs = authFromEnv(getenv, errs)
	return cfg, errors.Join(errs...)
}

// authFromEnv reads the verifier's settings. Without an issuer sign-in is
// off, and the other two must be unset too: a client id alone would look
// like sign-in is on while anyone may connect.
func authFromEnv(getenv func(string) string, errs []error) (auth.Config, []error) {
	a := auth.Config{Issuer: getenv(contract.EnvAuthIssuer), ClientID: getenv(contract.EnvAuthClientID),
		JWKSURL: getenv(contract.EnvAuthJWKSURL)}
	if a.Issuer == "" {
		for _, set := range []struct{ name, v string }{{contract.EnvAuthClientID, a.ClientID}, {contract.EnvAuthJWKSURL, a.JWKSURL}} {
			if set.v != "" {
				errs = append(errs, fmt.Errorf("%s is set but %s is not: sign-in needs both, and neither is set without it", set.name, contract.EnvAuthIssuer))
			}
		}
		return a, errs
	}
	if a.ClientID == "" {
		errs = append(errs, fmt.Errorf("%s is not set (%s is: sign-in is on)", contract.EnvAuthClientID, contract.EnvAuthIssuer))
	}
	if err := keyURL(a.Issuer); err != nil {
		errs = append(errs, fmt.Errorf("%s %w", contract.EnvAuthIssuer, err))
	}
	if a.JWKSURL != "" {
		if err := keyURL(a.JWKSURL); err != nil {
			errs = append(errs, fmt.Errorf("%s %w", contract.EnvAuthJWKSURL, err))
		}
	}
	return a, errs
}

// keyURL checks a URL sign-in trusts: https, or http on a loopback host
// (the local issuer). Keys fetched in the clear from the network could be
// anyone's.
func keyURL(v string) error {
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Host == "":
		return errors.New("is not a URL with a host")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return errors.New("must be an https URL (http only on a loopback host)")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// New builds the service: one DynamoDB client and one management API client,
// shared by every invocation. opt's PoolSize and MessageRetention are taken
// from cfg when cfg sets them, and its Verifier is built from cfg.Auth when
// that has an issuer (sign-in on), on opt's clock.
func New(cfg Config, awsCfg aws.Config, opt chat.Options) *chat.Service {
	if cfg.PoolSize > 0 {
		opt.PoolSize = cfg.PoolSize
	}
	if cfg.MessageRetention > 0 {
		opt.MessageRetention = cfg.MessageRetention
	}
	if cfg.RateLimit.Limit > 0 {
		opt.RateLimit.Limit = cfg.RateLimit.Limit
	}
	if cfg.RateLimit.Window > 0 {
		opt.RateLimit.Window = cfg.RateLimit.Window
	}
	if cfg.MaxDevices > 0 {
		opt.MaxDevices = cfg.MaxDevices
	}
	if cfg.MaxConnectsPerMinute > 0 {
		opt.ConnectLimit = chat.RateLimit{Limit: cfg.MaxConnectsPerMinute, Window: time.Minute}
	}
	if cfg.Auth.Issuer != "" {
		a := cfg.Auth
		if a.Now == nil {
			a.Now = opt.Now
		}
		opt.Verifier = auth.New(a)
		// The issuer is <endpoint>/<pool id>: the pool whose Pre sign-up
		// trigger the function answers.
		if u, err := url.Parse(a.Issuer); err == nil {
			opt.UserPoolID = path.Base(u.Path)
		}
	}
	// The management endpoint is the stage's callback URL, …/<stage>.
	if u, err := url.Parse(cfg.ManagementEndpoint); err == nil && opt.Stage == "" && strings.Trim(u.Path, "/") != "" {
		opt.Stage = path.Base(u.Path)
	}
	pool := opt.WithDefaults().PoolSize
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
		}
		// Every request gets its own time limit: a stalled call must not
		// eat the invocation (the SDK retries within the invocation's
		// context). The stale connections a fan-out finds are removed pool
		// at a time: keep that many connections warm, not the SDK's 10.
		o.HTTPClient = awshttp.NewBuildableClient().WithTimeout(dynamoRequestTimeout).
			WithTransportOptions(func(t *http.Transport) {
				t.MaxIdleConns = pool
				t.MaxIdleConnsPerHost = pool
			})
	})
	if cfg.SettleQueueURL != "" && opt.Settle == nil {
		opt.Settle = newSettleQueue(awsCfg, cfg.SettleQueueURL, cfg.SQSEndpoint)
	}
	if cfg.ShardSize > 0 {
		opt.ShardSize = cfg.ShardSize
	}
	if cfg.FunctionName != "" && opt.Shards == nil {
		opt.Shards = newSelfInvoker(awsCfg, cfg.FunctionName, cfg.LambdaEndpoint)
	}
	opt = opt.WithDefaults()
	poster := mgmt.NewFromConfig(awsCfg, cfg.ManagementEndpoint, opt.PoolSize)
	return chat.New(dynamo.New(db, cfg.Tables, opt.Now), poster, opt)
}
