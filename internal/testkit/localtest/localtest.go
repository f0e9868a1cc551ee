// Package localtest starts an in-process local stack for one test or
// benchmark, stops it when that ends, and adds what only tests need: the
// chat's metrics, the log and every handler invocation kept in memory, a
// fan-out pool size and a management API latency switchable while the stack
// runs, and a look-up of connection ids by name.
package localtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/wire"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Stack is a running local stack with its test hooks.
type Stack struct {
	*local.Stack

	metrics testkit.Buffer
	log     testkit.Buffer

	fn  wire.Config
	opt chat.Options
	svc atomic.Pointer[chat.Service] // the service of the current pool size

	running atomic.Int64 // invocations started and not yet ended

	mu          sync.Mutex
	services    map[int]*chat.Service // by pool size, each with its warm connections
	invocations []Invocation
}

// Invocation is one call of the handler.
type Invocation struct {
	Route string
	// Authorizer marks the $connect authorizer's invocation (its Route is
	// "$connect" too; Status is 0).
	Authorizer bool
	// AuthorizerContext is the event's requestContext.authorizer: with
	// sign-in on, what the authorizer's context became in the events of
	// the connection. Nil without.
	AuthorizerContext map[string]any
	Took              time.Duration
	// Budget is the time the invocation had (the gateway's HandlerTimeout).
	Budget time.Duration
	Err    error
	Status int
}

// Start starts a stack with o (its own dynalite unless o names an endpoint);
// it is stopped, every connection's $disconnect run, when tb ends. o.Log and
// o.Chat.Metrics still receive what the stack writes. Its DynamoDB proxy
// answers as AWS does (issue 21): o.DynamoDB on top of ddbproxy.AWSLike(),
// unless o.DynamoDB is an opt-out, ddbproxy.Deterministic("why").
func Start(tb testing.TB, o local.Options) *Stack {
	tb.Helper()
	testkit.Slow(tb, "the local stack, on dynalite")
	s := &Stack{services: map[int]*chat.Service{}}
	s.log.Tee = o.Log
	o.Log = &s.log
	s.metrics.Tee = o.Chat.Metrics
	o.Chat.Metrics = &s.metrics
	o.DynamoDB = ddbproxy.OverAWSLike(o.DynamoDB)
	o.Function = func(fn wire.Config, opt chat.Options) local.Invoke {
		s.fn, s.opt = fn, opt
		s.SetPoolSize(fn.PoolSize)
		return s.invoke
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ls, err := local.Start(ctx, o)
	if err != nil {
		tb.Fatalf("start the local stack: %v", err)
	}
	s.Stack = ls
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := ls.Stop(ctx); err != nil {
			tb.Errorf("stop the local stack: %v", err)
		}
	})
	return s
}

// invoke runs the service of the current pool size and records the
// invocation.
func (s *Stack) invoke(ctx context.Context, event json.RawMessage) (any, error) {
	s.running.Add(1)
	defer s.running.Add(-1) // after the invocation is recorded
	start := time.Now()
	resp, err := s.svc.Load().Invoke(ctx, event)
	took := time.Since(start)
	var ev struct {
		Type           string `json:"type"`
		RequestContext struct {
			RouteKey   string         `json:"routeKey"`
			Authorizer map[string]any `json:"authorizer"`
		} `json:"requestContext"`
	}
	_ = json.Unmarshal(event, &ev)
	inv := Invocation{Route: ev.RequestContext.RouteKey, Authorizer: ev.Type != "", AuthorizerContext: ev.RequestContext.Authorizer,
		Took: took, Err: err}
	if r, ok := resp.(events.APIGatewayProxyResponse); ok {
		inv.Status = r.StatusCode
	}
	if dl, ok := ctx.Deadline(); ok {
		inv.Budget = dl.Sub(start)
	}
	s.mu.Lock()
	s.invocations = append(s.invocations, inv)
	s.mu.Unlock()
	return resp, err
}

// SetPoolSize makes later invocations fan out through a pool of n (as the
// function's FANOUT_POOL_SIZE; 0: the chat's default), so one stack with one
// set of clients can compare pool sizes. Each size gets its own service,
// built once and kept.
func (s *Stack) SetPoolSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc := s.services[n]
	if svc == nil {
		fn := s.fn
		fn.PoolSize = n
		svc = wire.New(fn, local.AWSConfig(), s.opt)
		s.services[n] = svc
	}
	s.svc.Store(svc)
}

// SetLatency delays every later management API call by d (0: none),
// keeping the gateway's other faults.
func (s *Stack) SetLatency(d time.Duration) {
	f := s.Gateway.Config().Faults
	f.Latency = d
	s.Gateway.SetFaults(f)
}

// Metrics returns every EMF line the chat wrote so far.
func (s *Stack) Metrics() string { return s.metrics.String() }

// Log returns the gateway's and the chat's log so far.
func (s *Stack) Log() string { return s.log.String() }

// Running returns how many invocations have started and not yet ended. A
// test that knows every invocation it caused has started (it counted them
// in Invocations, or their answers arrived) waits for 0 to read a table at
// rest: the work of an invocation goes on after its deliveries arrive (a
// broadcast's stale removals and the members frame after them).
func (s *Stack) Running() int { return int(s.running.Load()) }

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
			if strings.HasPrefix(c.PK, contract.ConnItemPrefix) {
				out[c.Name] = c.ID
			}
		}
	}
	return out, nil
}
