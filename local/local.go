// Package local runs the whole chat in one process: dynalite (or another
// DynamoDB API) with the tables created from the shared key schema, the real
// chat handler (wired by lambda/wire as on AWS) and the API Gateway stand-in
// (local/gateway) on one loopback port, and with sign-in on, a local token
// issuer (local/cognito) and the $connect authorizer. cmd/local (`make dev`) serves it; the
// load tool's tests, the fault tests and the benchmarks start it in-process
// through internal/testkit/localtest.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/lambda/wire"
	"github.com/groupchat/groupchat/local/cognito"
	"github.com/groupchat/groupchat/local/ddbproxy"
	"github.com/groupchat/groupchat/local/dynalite"
	"github.com/groupchat/groupchat/local/gateway"
	"github.com/groupchat/groupchat/local/lambdaenv"
	"github.com/groupchat/groupchat/local/lambdainvoke"
	"github.com/groupchat/groupchat/local/metrics"
	"github.com/groupchat/groupchat/local/sqslocal"
	"github.com/groupchat/groupchat/observability"
)

// Options describe a stack. The zero value of every field means its default.
type Options struct {
	// Port on 127.0.0.1. Default 0: a free port.
	Port int
	// Gateway configures the stand-in (stage, limits, static directory,
	// faults). Its Log is replaced by Log. Default stage: gateway.DefaultStage.
	Gateway gateway.Config
	// DynamoDBEndpoint is a running DynamoDB API to use; the stack creates
	// its tables there (keeping tables that exist). Default: the stack
	// starts its own dynalite with Dynalite.
	DynamoDBEndpoint string
	// Dynalite configures the stack's own dynalite (Dir keeps its data on
	// disk; Port and Dir let a test restart it). Its Stderr defaults to Log.
	// Ignored with DynamoDBEndpoint.
	Dynalite dynalite.Options
	// DynamoDB sets the faults of the proxy the function reaches DynamoDB
	// through (a lagging index, writes applied then failed): its defaults,
	// which a test layers hooks over with Stack.DynamoDBProxy.Inject and
	// returns to with Restore. Default: none, a transparent proxy
	// (ddbproxy.AWSLike() answers as AWS does; a test's stack,
	// internal/testkit/localtest, lays these over it unless they are an
	// opt-out, ddbproxy.Deterministic("why")).
	DynamoDB ddbproxy.Faults
	// SQS configures the settle queue's stand-in (local/sqslocal) and the
	// event source mapping that invokes the function with its messages.
	// Default: AWS-like (a message delivered twice now and then).
	SQS sqslocal.Options
	// Tables names the tables. Default: the shared names in contract, as
	// on AWS; set unique ones to share one DynamoDB between stacks.
	Tables dynamo.Names
	// Chat tunes the handler. Default Logger: text on Log, warnings and
	// errors only (info too with Verbose). Default Metrics: discarded.
	Chat chat.Options
	// Auth is the sign-in mode, as an environment's "auth" setting:
	// contract.AuthCognito starts a local issuer (cognito-local, with the
	// test accounts of cognito.TestUsers), gives the function the verifier
	// settings a stack deployed with auth cognito gives it, puts the
	// function in front of $connect as its authorizer, and tells the page
	// in /config.json. Default "" (contract.AuthNone): anyone may connect.
	Auth string
	// Cognito configures the local issuer (Dir keeps its pool and accounts
	// across restarts). Its Log defaults to Log. Used with AuthCognito.
	Cognito cognito.Options
	// Getenv supplies the function's optional settings (FANOUT_POOL_SIZE,
	// MESSAGE_RETENTION_DAYS, MAX_DEVICES_PER_ACCOUNT) through the same parsing as on AWS. Default:
	// none.
	Getenv func(string) string
	// Log receives the gateway's log (one line per event) and the chat's
	// log lines. Default: discarded.
	Log io.Writer
	// Verbose also logs every management API call and the chat's info logs.
	Verbose bool
	// Function builds the function's Lambda handler from its
	// configuration (parsed from the same environment variables as on AWS)
	// and the chat's options, as lambda/main.go does on AWS; the gateway
	// invokes it with every event as JSON, the authorizer's too. Default:
	// wire.New with AWSConfig, its Invoke. A test harness wraps it to
	// observe invocations or to build several handlers.
	Function func(fn wire.Config, opt chat.Options) Invoke
	// Metrics tunes the local CloudWatch (local/metrics): the dashboard at
	// metrics.DashboardPath and the alarms' evaluation.
	Metrics MetricsOptions
	// Environments, when set, runs the function as Lambda does: the
	// deployed binary (its Bootstrap) in execution environments, separate
	// processes each handling one event at a time, held to the CPU share of
	// their memory (docs/local.md, Two ways to run the function). Function
	// is then not used. Default nil: the handler runs in this process.
	Environments *Environments
}

// MetricsOptions tune the local metrics and alarms.
type MetricsOptions struct {
	// Period is the period of the local graphs and of the alarms'
	// evaluation; the thresholds stay the definition's. Default
	// observability.Period (5 minutes), as on AWS; a test or a demo takes
	// seconds.
	Period time.Duration
	// Now is the clock that stamps the samples and evaluates the alarms.
	// Default time.Now, and the alarms are evaluated every period (at
	// most every 10 s); with a clock of its own a test steps it and
	// evaluates when it wants (Stack.Alarms.Evaluate; the dashboard's
	// data evaluates too).
	Now func() time.Time
}

// Stack is a running local stack.
type Stack struct {
	// Addr is the listening address, 127.0.0.1:PORT.
	Addr string
	// URL is the WebSocket URL, ws://127.0.0.1:PORT/<stage>; PageURL the
	// page's, http://127.0.0.1:PORT/.
	URL, PageURL string
	// DynamoDBEndpoint is the DynamoDB API in use; DB a client on it and
	// Tables the stack's tables there. DB reaches it directly, not through
	// DynamoDBProxy: what a test reads with it is never lagged.
	DynamoDBEndpoint string
	DB               *dynamodb.Client
	Tables           dynamo.Names
	// Dynalite is the stack's own dynalite, nil with a DynamoDBEndpoint.
	Dynalite *dynalite.Server
	// DynamoDBProxy stands between the function and DynamoDBEndpoint, with
	// Options.DynamoDB's faults (switchable while the stack runs).
	DynamoDBProxy *ddbproxy.Proxy
	// SQS is the settle queue's stand-in, polled by the function's event
	// source mapping.
	SQS *sqslocal.Server
	// Gateway is the API Gateway stand-in (its faults can be switched while
	// the stack runs).
	Gateway *gateway.Gateway
	// Auth is the sign-in mode in effect (contract.AuthNone or
	// AuthCognito); Cognito the local issuer, nil with AuthNone.
	Auth    string
	Cognito *cognito.Server
	// Lambda is the Lambda API the local issuer invokes the function's
	// trigger through (FunctionName), and the function its own fan-out
	// shards (asynchronous Invoke).
	Lambda *lambdainvoke.Server
	// Environments is the local Lambda service the function runs in with
	// Options.Environments; nil when it runs in this process.
	Environments *lambdaenv.Service
	// Observability is the dashboard and alarms' definition for this
	// stack (its stage, its sign-in, its handler timeout); Metrics holds
	// what the stack measured, Alarms evaluates the definition's alarms
	// on it, and Dashboard serves them at metrics.DashboardPath.
	Observability observability.Definition
	Metrics       *metrics.Store
	Alarms        *metrics.Evaluator
	Dashboard     *metrics.Dashboard

	accountsMu sync.Mutex
	accounts   map[string]bool // made by Token

	srv      *http.Server
	served   chan struct{} // closed when the server stops serving
	serveErr error         // what Serve returned, once served is closed

	evalStop chan struct{} // ends the alarms' scheduled evaluation

	stopOnce sync.Once
	stopErr  error
}

// AWSConfig signs requests to local endpoints with dummy credentials.
func AWSConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
}

// Start starts a stack and returns once it is listening; Stop ends it.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	s := &Stack{served: make(chan struct{})}
	logTo := o.Log
	if logTo == nil {
		logTo = io.Discard
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port)))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	defer func() {
		if err != nil {
			_ = ln.Close()
			if s.evalStop != nil {
				close(s.evalStop)
			}
			_ = s.stopEnvironments()
			_ = s.stopDynamoDB()
			_ = s.stopCognito()
			if s.Lambda != nil {
				_ = s.Lambda.Close()
			}
			if s.SQS != nil {
				_ = s.SQS.Close()
			}
		}
	}()
	s.Addr = ln.Addr().String()
	if err := s.startDynamoDB(ctx, o, logTo); err != nil {
		return nil, err
	}
	sqsOpt := o.SQS
	sqsOpt.DeadLetter = func(depth int) {
		if s.Metrics != nil {
			s.Metrics.Put(observability.NamespaceSQS, "ApproximateNumberOfMessagesVisible", nil, float64(depth))
		}
	}
	if s.SQS, err = sqslocal.Start(sqsOpt); err != nil {
		return nil, err
	}
	if s.Lambda, err = lambdainvoke.Start(contract.FunctionTimeout); err != nil {
		return nil, err
	}
	authEnv, page, users, err := s.startAuth(ctx, o, logTo)
	if err != nil {
		return nil, err
	}

	gwCfg := o.Gateway
	if gwCfg.Stage == "" {
		gwCfg.Stage = gateway.DefaultStage
	}
	gwCfg.Log = logTo
	gwCfg.Page = page
	gwCfg.LogManagement = gwCfg.LogManagement || o.Verbose
	s.Tables = o.Tables
	if s.Tables.Connections == "" || s.Tables.Messages == "" {
		s.Tables = dynamo.Names{Connections: contract.Connections.ID, Messages: contract.Messages.ID}
	}

	// The function's configuration comes through the same variables as on
	// AWS, so the local stack exercises the same parsing.
	env := map[string]string{
		contract.EnvConnectionsTable:   s.Tables.Connections,
		contract.EnvMessagesTable:      s.Tables.Messages,
		contract.EnvManagementEndpoint: "http://" + s.Addr + "/" + gwCfg.Stage,
		contract.EnvDynamoDBEndpoint:   s.DynamoDBProxy.Endpoint(),
		contract.EnvSettleQueueURL:     s.SQS.QueueURL(sqslocal.QueueName),
		contract.EnvSQSEndpoint:        s.SQS.Endpoint(),
		// Lambda sets the function's name; the shards' Invoke reaches the
		// local Lambda API.
		contract.EnvFunctionName:   FunctionName,
		contract.EnvLambdaEndpoint: s.Lambda.Endpoint(),
	}
	for k, v := range authEnv {
		env[k] = v
	}
	if o.Getenv != nil {
		for _, k := range []string{contract.EnvFanoutPoolSize, contract.EnvMessageRetentionDays, contract.EnvMaxDevices,
			contract.EnvMaxConnectsPerMinute, contract.EnvFanoutShardSize} {
			env[k] = o.Getenv(k)
		}
	}
	fnCfg, err := wire.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		return nil, fmt.Errorf("function configuration: %w", err)
	}
	s.DB = dynamodb.NewFromConfig(AWSConfig(), func(opt *dynamodb.Options) { opt.BaseEndpoint = aws.String(s.DynamoDBEndpoint) })
	if err := dynamo.CreateTables(ctx, s.DB, s.Tables); err != nil {
		return nil, fmt.Errorf("DynamoDB at %s: %w", s.DynamoDBEndpoint, err)
	}

	s.startMetrics(o, &gwCfg)
	// The trigger's and the shards' invocations count in the function's
	// metrics, as the gateway's do: Lambda counts every invocation alike.
	s.Lambda.Observe(func(_ string, took time.Duration, err error) {
		s.Metrics.Put(observability.NamespaceLambda, "Invocations", nil, 1)
		s.Metrics.Put(observability.NamespaceLambda, "Errors", nil, boolValue(err != nil))
		s.Metrics.Put(observability.NamespaceLambda, "Duration", nil, float64(took.Microseconds())/1000)
	})
	s.Lambda.ObserveDropped(func(string) {
		s.Metrics.Put(observability.NamespaceLambda, "AsyncEventsDropped", nil, 1)
	})
	// An Invoke the environments refuse over their limit is a throttle,
	// each attempt of an event sent back to the queue one (the gateway
	// counts its own).
	s.Lambda.ObserveThrottled(func(string) {
		s.Metrics.Put(observability.NamespaceLambda, "Throttles", nil, 1)
	})
	opt := o.Chat
	if opt.Metrics == nil {
		opt.Metrics = s.Metrics.EMFWriter()
	} else {
		opt.Metrics = io.MultiWriter(opt.Metrics, s.Metrics.EMFWriter())
	}
	if opt.Logger == nil {
		level := slog.LevelWarn
		if o.Verbose {
			level = slog.LevelInfo
		}
		opt.Logger = slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: level}))
	}
	function := o.Function
	if function == nil {
		function = func(fn wire.Config, opt chat.Options) Invoke {
			return wire.New(fn, AWSConfig(), opt).Invoke
		}
	}
	var fn Invoke
	if o.Environments != nil {
		if fn, err = s.startEnvironments(*o.Environments, env, gwCfg.HandlerTimeout, opt.Metrics, logTo, o.Verbose); err != nil {
			return nil, fmt.Errorf("the function's environments: %w", err)
		}
	} else {
		fn = function(fnCfg, opt)
	}
	// The user pool's Pre sign-up trigger and the fan-out shards are the
	// same function, as on AWS: registered before the first account is
	// made and the first broadcast.
	s.Lambda.Register(FunctionName, lambdainvoke.Handler(fn))
	if s.Cognito != nil {
		gwCfg.Authorize = authorizer(fn)
		if err := s.Cognito.CreateUsers(ctx, users); err != nil {
			return nil, fmt.Errorf("start cognito-local: %w", err)
		}
	}
	s.Gateway = gateway.New(routeHandler(fn), gwCfg)
	// The settle queue's event source mapping: a few batches at once, each
	// invocation bounded as the gateway bounds a route's, a batch the
	// environments refuse counted in Throttles.
	timeout := gwCfg.HandlerTimeout
	if timeout <= 0 {
		timeout = gateway.DefaultHandlerTimeout
	}
	s.SQS.Poll(sqslocal.Handler(s.throttleCounted(fn)), settlePollers, timeout)
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		s.serveErr = s.srv.Serve(ln)
		close(s.served)
	}()
	s.URL = s.Gateway.WebSocketURL(s.Addr)
	s.PageURL = "http://" + s.Addr + "/"
	return s, nil
}

// settlePollers is how many settle batches the local event source mapping
// runs at once (Lambda's starts with 5 for a queue).
const settlePollers = 5

// serveHTTP answers TokenPath and hands everything else to the gateway.
func (s *Stack) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == TokenPath {
		s.serveToken(w, r)
		return
	}
	if r.URL.Path == metrics.DashboardPath || strings.HasPrefix(r.URL.Path, metrics.DashboardPath+"/") {
		s.Dashboard.ServeHTTP(w, r)
		return
	}
	s.Gateway.ServeHTTP(w, r)
}

// stopCognito stops the local issuer, if any.
func (s *Stack) stopCognito() error {
	if s.Cognito != nil {
		return s.Cognito.Stop()
	}
	return nil
}

// startDynamoDB starts the stack's own dynalite unless o names an
// endpoint, and the proxy the function reaches it through.
func (s *Stack) startDynamoDB(ctx context.Context, o Options, logTo io.Writer) (err error) {
	s.DynamoDBEndpoint = o.DynamoDBEndpoint
	if s.DynamoDBEndpoint == "" {
		dl := o.Dynalite
		if dl.Stderr == nil {
			dl.Stderr = logTo
		}
		if s.Dynalite, err = dynalite.Start(ctx, dl); err != nil {
			return err
		}
		s.DynamoDBEndpoint = s.Dynalite.Endpoint()
	}
	s.DynamoDBProxy, err = ddbproxy.Start(s.DynamoDBEndpoint, o.DynamoDB)
	return err
}

// stopDynamoDB closes the proxy and stops the stack's own dynalite.
func (s *Stack) stopDynamoDB() error {
	var errProxy, errDB error
	if s.DynamoDBProxy != nil {
		errProxy = s.DynamoDBProxy.Close()
	}
	if s.Dynalite != nil {
		errDB = s.Dynalite.Stop()
	}
	return errors.Join(errProxy, errDB)
}

// Done is closed when the stack stops serving: after Stop, or when its
// server fails on its own (Stop then returns why).
func (s *Stack) Done() <-chan struct{} { return s.served }

// Stop closes every connection with 1001 and runs its $disconnect (unless
// the gateway's DropDisconnect says otherwise; the management API still
// answers meanwhile), then closes the listener and the DynamoDB proxy and
// stops the stack's dynalite and its local issuer. Later calls return the first call's result.
func (s *Stack) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(ctx) })
	return s.stopErr
}

func (s *Stack) stop(ctx context.Context) error {
	if s.evalStop != nil {
		close(s.evalStop)
	}
	errSQS := s.SQS.Close() // its invocations post through the gateway
	errGW := s.Gateway.Shutdown(ctx)
	// The shards the last broadcasts queued post through the gateway too.
	errLambda := s.Lambda.Close()
	errHTTP := s.srv.Shutdown(ctx)
	if errors.Is(errHTTP, context.DeadlineExceeded) {
		errHTTP = errors.Join(errHTTP, s.srv.Close())
	}
	<-s.served
	if !errors.Is(s.serveErr, http.ErrServerClosed) {
		errHTTP = errors.Join(errHTTP, s.serveErr)
	}
	return errors.Join(errSQS, errGW, errLambda, errHTTP, s.stopEnvironments(), s.stopDynamoDB(), s.stopCognito())
}

// stopEnvironments ends the function's environments, if any.
func (s *Stack) stopEnvironments() error {
	if s.Environments == nil {
		return nil
	}
	return s.Environments.Close()
}
