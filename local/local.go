// Package localstack runs the whole chat in one process: dynalite (or another
// DynamoDB API) with the tables created from the shared key schema, the real
// chat handler (wired by lambda/wire as on AWS) and the API Gateway stand-in
// (internal/localgw) on one loopback port. cmd/local (`make dev`) serves it;
// the load tool's tests, the fault tests and the benchmarks start it
// in-process and use its test hooks: a switchable fan-out pool size and
// management API latency, and (with Capture) the chat's metrics, the log and
// every handler invocation's duration.
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
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/lambda/wire"
	"github.com/groupchat/groupchat/local/dynalite"
	"github.com/groupchat/groupchat/local/gateway"
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
	// Tables names the tables. Default: the shared names in contract, as
	// on AWS; set unique ones to share one DynamoDB between stacks.
	Tables dynamo.Names
	// Chat tunes the handler. Default Logger: text on Log, warnings and
	// errors only (info too with Verbose). Default Metrics: discarded.
	Chat chat.Options
	// Getenv supplies the function's optional settings (FANOUT_POOL_SIZE,
	// MESSAGE_RETENTION_DAYS) through the same parsing as on AWS. Default:
	// none.
	Getenv func(string) string
	// Log receives the gateway's log (one line per event) and the chat's
	// log lines. Default: discarded.
	Log io.Writer
	// Verbose also logs every management API call and the chat's info logs.
	Verbose bool
	// Capture keeps the chat's metrics, the log and every handler
	// invocation in memory for Metrics, Log and Invocations: for tests, as
	// a long-running stack would grow without bound. Default: off.
	Capture bool
}

// Stack is a running local stack.
type Stack struct {
	// Addr is the listening address, 127.0.0.1:PORT.
	Addr string
	// URL is the WebSocket URL, ws://127.0.0.1:PORT/<stage>; PageURL the
	// page's, http://127.0.0.1:PORT/.
	URL, PageURL string
	// DynamoDBEndpoint is the DynamoDB API in use; DB a client on it and
	// Tables the stack's tables there.
	DynamoDBEndpoint string
	DB               *dynamodb.Client
	Tables           dynamo.Names
	// Dynalite is the stack's own dynalite, nil with a DynamoDBEndpoint.
	Dynalite *dynalite.Server

	gw       *gateway.Gateway
	srv      *http.Server
	served   chan struct{} // closed when the server stops serving
	serveErr error         // what Serve returned, once served is closed
	budget   time.Duration // the handler's deadline, for Invocations

	latency atomic.Int64                 // management API delay (SetLatency)
	svc     atomic.Pointer[chat.Service] // the service of the current pool size

	// capture, when set, records metrics, log and invocations.
	capture     bool
	metrics     testkit.Buffer
	log         testkit.Buffer
	newService  func(pool int) *chat.Service
	mu          sync.Mutex
	services    map[int]*chat.Service // by pool size
	invocations []Invocation

	stopOnce sync.Once
	stopErr  error
}

// Invocation is one call of the handler.
type Invocation struct {
	Route string
	Took  time.Duration
	// Budget is the time the invocation had (the gateway's HandlerTimeout).
	Budget time.Duration
	Err    error
	Status int
}

// AWSConfig signs requests to local endpoints with dummy credentials.
func AWSConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
}

// Start starts a stack and returns once it is listening; Stop ends it.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	s := &Stack{served: make(chan struct{}), capture: o.Capture}
	logTo := o.Log
	if logTo == nil {
		logTo = io.Discard
	}
	if o.Capture {
		logTo = io.MultiWriter(&s.log, logTo)
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port)))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	defer func() {
		if err != nil {
			_ = ln.Close()
			if s.Dynalite != nil {
				_ = s.Dynalite.Stop()
			}
		}
	}()
	s.Addr = ln.Addr().String()
	s.DynamoDBEndpoint = o.DynamoDBEndpoint
	if s.DynamoDBEndpoint == "" {
		dl := o.Dynalite
		if dl.Stderr == nil {
			dl.Stderr = logTo
		}
		if s.Dynalite, err = dynalite.Start(ctx, dl); err != nil {
			return nil, err
		}
		s.DynamoDBEndpoint = s.Dynalite.Endpoint()
	}

	gwCfg := o.Gateway
	if gwCfg.Stage == "" {
		gwCfg.Stage = gateway.DefaultStage
	}
	gwCfg.Log = logTo
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
		contract.EnvDynamoDBEndpoint:   s.DynamoDBEndpoint,
	}
	if o.Getenv != nil {
		for _, k := range []string{contract.EnvFanoutPoolSize, contract.EnvMessageRetentionDays} {
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

	opt := o.Chat
	if opt.Metrics == nil {
		opt.Metrics = io.Discard
	}
	if o.Capture {
		opt.Metrics = io.MultiWriter(&s.metrics, opt.Metrics)
	}
	if opt.Logger == nil {
		level := slog.LevelWarn
		if o.Verbose {
			level = slog.LevelInfo
		}
		opt.Logger = slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: level}))
	}
	s.newService = func(pool int) *chat.Service {
		cfg := fnCfg
		cfg.PoolSize = pool
		return wire.New(cfg, AWSConfig(), opt)
	}
	s.services = map[int]*chat.Service{}
	s.SetPoolSize(fnCfg.PoolSize)

	s.budget = gwCfg.HandlerTimeout
	if s.budget <= 0 {
		s.budget = gateway.DefaultHandlerTimeout
	}
	s.gw = gateway.New(s.handle, gwCfg)
	s.srv = &http.Server{Handler: s.withLatency(s.gw), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		s.serveErr = s.srv.Serve(ln)
		close(s.served)
	}()
	s.URL = s.gw.WebSocketURL(s.Addr)
	s.PageURL = "http://" + s.Addr + "/"
	return s, nil
}

// handle runs the chat service of the current pool size and, with Capture,
// records the invocation.
func (s *Stack) handle(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	svc := s.svc.Load()
	if !s.capture {
		return svc.Handle(ctx, ev)
	}
	start := time.Now()
	resp, err := svc.Handle(ctx, ev)
	s.mu.Lock()
	s.invocations = append(s.invocations, Invocation{Route: ev.RequestContext.RouteKey, Took: time.Since(start),
		Budget: s.budget, Err: err, Status: resp.StatusCode})
	s.mu.Unlock()
	return resp, err
}

// withLatency delays every management API call by the current latency, as
// localgw's Faults.Latency does, but switchable while the stack runs: a
// benchmark fills a room at loopback speed, then measures a broadcast at
// AWS's.
func (s *Stack) withLatency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := time.Duration(s.latency.Load()); d > 0 && strings.Contains(r.URL.Path, "/@connections/") {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// SetPoolSize makes later invocations fan out through a pool of n (as the
// function's FANOUT_POOL_SIZE; 0: Chat.PoolSize, else the chat's default),
// so one stack with one set of clients can compare pool sizes. Each size
// gets its own service, built once and kept, with its warm connections.
func (s *Stack) SetPoolSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc := s.services[n]
	if svc == nil {
		svc = s.newService(n)
		s.services[n] = svc
	}
	s.svc.Store(svc)
}

// SetLatency delays every later management API call by d (0: none).
func (s *Stack) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// Metrics returns every EMF line the chat wrote so far (with Capture).
func (s *Stack) Metrics() string { return s.metrics.String() }

// Log returns the gateway's and the chat's log so far (with Capture).
func (s *Stack) Log() string { return s.log.String() }

// Invocations returns every handler invocation so far (with Capture).
func (s *Stack) Invocations() []Invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Invocation(nil), s.invocations...)
}

// ConnectionsByName reads the Connections table and maps each live
// connection's name to its connection id: how a test finds the id of a
// client it knows by name.
func (s *Stack) ConnectionsByName(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	p := dynamodb.NewScanPaginator(s.DB, &dynamodb.ScanInput{TableName: aws.String(s.Tables.Connections)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", s.Tables.Connections, err)
		}
		for _, item := range page.Items {
			var c struct {
				PK   string `dynamodbav:"pk"`
				ID   string `dynamodbav:"connectionId"`
				Name string `dynamodbav:"name"`
			}
			if err := attributevalue.UnmarshalMap(item, &c); err != nil {
				return nil, err
			}
			if strings.HasPrefix(c.PK, "c#") {
				out[c.Name] = c.ID
			}
		}
	}
	return out, nil
}

// Done is closed when the stack stops serving: after Stop, or when its
// server fails on its own (Stop then returns why).
func (s *Stack) Done() <-chan struct{} { return s.served }

// Stop closes every connection with 1001 and runs its $disconnect (unless
// the gateway's DropDisconnect says otherwise; the management API still
// answers meanwhile), then closes the listener and stops the stack's
// dynalite. Later calls return the first call's result.
func (s *Stack) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(ctx) })
	return s.stopErr
}

func (s *Stack) stop(ctx context.Context) error {
	errGW := s.gw.Shutdown(ctx)
	errHTTP := s.srv.Shutdown(ctx)
	if errors.Is(errHTTP, context.DeadlineExceeded) {
		errHTTP = errors.Join(errHTTP, s.srv.Close())
	}
	<-s.served
	if !errors.Is(s.serveErr, http.ErrServerClosed) {
		errHTTP = errors.Join(errHTTP, s.serveErr)
	}
	var errDB error
	if s.Dynalite != nil {
		errDB = s.Dynalite.Stop()
	}
	return errors.Join(errGW, errHTTP, errDB)
}
