// Package localstack runs the local stack in-process for the load tool's
// tests, the fault tests and the benchmarks: dynalite, the real chat handler
// (wired by lambda/wire as on AWS) and the API Gateway stand-in
// (internal/localgw) on one loopback port, with the handles a test needs:
// the chat's metrics, the gateway's log, every handler invocation's
// duration, a switchable management API latency and the DynamoDB client.
package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	"github.com/groupchat/groupchat/internal/dynalite"
	"github.com/groupchat/groupchat/internal/localgw"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/lambda/wire"
)

// Options describe a stack. The zero value of every field means its default.
type Options struct {
	// DynamoDBEndpoint is a running DynamoDB API (such as a shared
	// dynalite); the stack creates fresh tables on it. Default: the stack
	// starts its own dynalite with Dynalite.
	DynamoDBEndpoint string
	// Dynalite configures the stack's own dynalite (Port and Dir let a test
	// restart it). Ignored with DynamoDBEndpoint.
	Dynalite dynalite.Options
	// Tables names the tables. Default: unique names.
	Tables dynamo.Names
	// Gateway configures the stand-in; Log is replaced by the stack's.
	Gateway localgw.Config
	// Chat tunes the handler; Metrics and Logger are replaced by the
	// stack's (set PoolSize, PostTimeout, StaleGrace, DeadlineMargin here).
	Chat chat.Options
	// Log also receives the gateway's and the chat's log lines. Default:
	// only the stack's buffer.
	Log io.Writer
}

// Stack is a running local stack.
type Stack struct {
	// URL is the WebSocket URL, ws://127.0.0.1:PORT/<stage>.
	URL string
	// DB is a DynamoDB client on the stack's DynamoDB; Tables its tables.
	DB     *dynamodb.Client
	Tables dynamo.Names
	// Dynalite is the stack's own dynalite, nil with DynamoDBEndpoint.
	Dynalite *dynalite.Server

	metrics, log syncBuffer
	latency      atomic.Int64
	gw           *localgw.Gateway
	srv          *http.Server
	served       chan error

	pool       atomic.Int64
	newService func(pool int) *chat.Service

	mu          sync.Mutex
	services    map[int]*chat.Service // by pool size
	invocations []Invocation
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

var seq atomic.Int64

// AWSConfig signs requests to local endpoints with dummy credentials.
func AWSConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
}

// Start starts a stack; Stop ends it.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	s := &Stack{served: make(chan error, 1)}
	logTo := io.Writer(&s.log)
	if o.Log != nil {
		logTo = io.MultiWriter(&s.log, o.Log)
	}
	endpoint := o.DynamoDBEndpoint
	if endpoint == "" {
		if o.Dynalite.Stderr == nil {
			o.Dynalite.Stderr = logTo
		}
		if s.Dynalite, err = dynalite.Start(ctx, o.Dynalite); err != nil {
			return nil, err
		}
		endpoint = s.Dynalite.Endpoint()
		defer func() {
			if err != nil {
				_ = s.Dynalite.Stop()
			}
		}()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	host := ln.Addr().String()

	s.Tables = o.Tables
	if s.Tables.Connections == "" {
		n := seq.Add(1)
		s.Tables = dynamo.Names{
			Connections: fmt.Sprintf("%s-%d-%d", contract.Connections.ID, time.Now().UnixNano(), n),
			Messages:    fmt.Sprintf("%s-%d-%d", contract.Messages.ID, time.Now().UnixNano(), n),
		}
	}
	s.DB = dynamodb.NewFromConfig(AWSConfig(), func(opt *dynamodb.Options) { opt.BaseEndpoint = aws.String(endpoint) })
	if err := dynamo.CreateTables(ctx, s.DB, s.Tables); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("tables: %w", err)
	}

	gwCfg := o.Gateway
	if gwCfg.Stage == "" {
		gwCfg.Stage = localgw.DefaultStage
	}
	gwCfg.Log = logTo
	fnCfg := wire.Config{Tables: s.Tables, ManagementEndpoint: "http://" + host + "/" + gwCfg.Stage,
		DynamoDBEndpoint: endpoint, PoolSize: o.Chat.PoolSize}
	opt := o.Chat
	opt.Metrics = &s.metrics
	opt.Logger = slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s.newService = func(pool int) *chat.Service {
		cfg := fnCfg
		cfg.PoolSize = pool
		return wire.New(cfg, AWSConfig(), opt)
	}
	s.services = map[int]*chat.Service{}
	s.pool.Store(int64(o.Chat.PoolSize))

	budget := gwCfg.HandlerTimeout
	if budget <= 0 {
		budget = localgw.DefaultHandlerTimeout
	}
	s.gw = localgw.New(s.handler(budget), gwCfg)
	s.srv = &http.Server{Handler: s.withLatency(s.gw), ReadHeaderTimeout: 10 * time.Second}
	go func() { s.served <- s.srv.Serve(ln) }()
	s.URL = s.gw.WebSocketURL(host)
	return s, nil
}

// handler runs the chat service of the current pool size and records every
// invocation.
func (s *Stack) handler(budget time.Duration) localgw.Handler {
	return func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		pool := int(s.pool.Load())
		s.mu.Lock()
		svc := s.services[pool]
		if svc == nil {
			svc = s.newService(pool)
			s.services[pool] = svc
		}
		s.mu.Unlock()
		start := time.Now()
		resp, err := svc.Handle(ctx, ev)
		s.mu.Lock()
		s.invocations = append(s.invocations, Invocation{Route: ev.RequestContext.RouteKey, Took: time.Since(start),
			Budget: budget, Err: err, Status: resp.StatusCode})
		s.mu.Unlock()
		return resp, err
	}
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
// function's FANOUT_POOL_SIZE; 0: the chat's default), so one stack with
// one set of clients can compare pool sizes.
func (s *Stack) SetPoolSize(n int) { s.pool.Store(int64(n)) }

// SetLatency delays every later management API call by d (0: none).
func (s *Stack) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// Metrics returns every EMF line the chat wrote so far.
func (s *Stack) Metrics() string { return s.metrics.String() }

// Log returns the gateway's and the chat's log so far.
func (s *Stack) Log() string { return s.log.String() }

// Invocations returns every handler invocation so far.
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

// Stop closes every connection (running $disconnect unless the gateway's
// DropDisconnect says otherwise), the listener, and the stack's dynalite.
func (s *Stack) Stop(ctx context.Context) error {
	errGW := s.gw.Shutdown(ctx)
	errHTTP := s.srv.Shutdown(ctx)
	if errors.Is(errHTTP, context.DeadlineExceeded) {
		errHTTP = errors.Join(errHTTP, s.srv.Close())
	}
	if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
		errHTTP = errors.Join(errHTTP, err)
	}
	var errDB error
	if s.Dynalite != nil {
		errDB = s.Dynalite.Stop()
	}
	return errors.Join(errGW, errHTTP, errDB)
}

// syncBuffer is a goroutine-safe buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
