// Package chattest runs the chat handler against real parts for tests and
// benchmarks: dynalite through the real DynamoDB client, and an HTTP server
// standing in for API Gateway's management API, reached through the real
// management API client. Only AWS itself is stood in for. The handler
// reaches dynalite through a local/ddbproxy proxy, whose faults a test can
// switch (a lagging index, writes applied then failed).
package chattest

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/lambda/wire"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/ddbproxy"
	"github.com/groupchat/groupchat/local/dynalite"
)

var (
	shared     *dynalite.Server
	sharedDB   *ddbproxy.Proxy // what tests read and seed through: dynalite has no transactions
	sharedOnce sync.Once
	sharedErr  error
)

// Main starts one dynalite for a test binary, runs the tests, stops it.
// Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if sharedDB != nil {
		_ = sharedDB.Close()
	}
	if shared != nil {
		_ = shared.Stop()
	}
	os.Exit(code)
}

// DynamoDB returns a client for the test binary's dynalite, through a proxy
// without faults (which runs transactions), and dynalite's own endpoint,
// starting both on first use.
func DynamoDB(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	testkit.Slow(t, "the handler on dynalite")
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shared, sharedErr = dynalite.Start(ctx, dynalite.Options{})
		if sharedErr == nil {
			sharedDB, sharedErr = ddbproxy.Start(shared.Endpoint(),
				ddbproxy.Deterministic("the tests' own setup and inspection: never lagged, never failed; the handler has its own proxy"))
		}
	})
	if sharedErr != nil {
		t.Fatalf("dynalite: %v", sharedErr)
	}
	db := dynamodb.NewFromConfig(local.AWSConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(sharedDB.Endpoint()) })
	return db, shared.Endpoint()
}

var tableSeq atomic.Int64

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// NewTables creates a fresh pair of tables for one test.
func NewTables(t testing.TB, db *dynamodb.Client) dynamo.Names {
	t.Helper()
	base := unsafeName.ReplaceAllString(t.Name(), "_")
	if len(base) > 150 {
		base = base[:150]
	}
	n := tableSeq.Add(1)
	names := dynamo.Names{
		Connections: fmt.Sprintf("%s-%d-%s", base, n, contract.Connections.ID),
		Messages:    fmt.Sprintf("%s-%d-%s", base, n, contract.Messages.ID),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dynamo.CreateTables(ctx, db, names); err != nil {
		t.Fatal(err)
	}
	return names
}

// Harness is a chat service on fresh tables with a Gateway in front.
type Harness struct {
	t       testing.TB
	Service *chat.Service
	// Store and DB reach dynalite directly, for setting up and inspecting
	// the tables: never lagged, never failed.
	Store  *dynamo.Store
	DB     *dynamodb.Client
	Tables dynamo.Names
	// DynamoDB is the proxy the Service reaches dynalite through, as
	// unkind as DynamoDB on AWS by default (ddbproxy.AWSLike: the index and
	// eventually consistent reads lag 100 ms, transactions conflict); it
	// counts the Service's requests per operation. A test adds its hooks
	// on top of those defaults with DynamoDB.Inject(ddbproxy.Faults{…})
	// and returns to them with DynamoDB.Restore(); only a test that needs
	// determinism opts out, saying why:
	// DynamoDB.Inject(ddbproxy.Deterministic("…")) (docs/local.md).
	DynamoDB *ddbproxy.Proxy
	GW       *Gateway
	Metrics  *testkit.Buffer
	Stage    string
	offset   *atomic.Int64
	// accounts holds the authorizer's context of each signed-in
	// connection, which API Gateway passes with its every event.
	accounts *sync.Map
	// Shards runs the fan-out shards (Sharded); nil without them.
	Shards *Shards
	cfg    wire.Config
	opt    chat.Options
}

// With returns the harness reporting to t: for a fuzz target's inner test.
func (h *Harness) With(t testing.TB) *Harness {
	c := *h
	c.t = t
	return &c
}

// Now is the harness's clock: real time plus whatever Advance added.
func (h *Harness) Now() time.Time { return time.Now().Add(time.Duration(h.offset.Load())) }

// Advance moves the harness's clock forward.
func (h *Harness) Advance(d time.Duration) { h.offset.Add(int64(d)) }

// Option adjusts the service's options before it is built.
type Option func(*chat.Options)

// Unlimited lifts the budget and the limit on connects, for tests and
// benchmarks that send or connect more than a person may: 1,000 units (and
// 1,000 connects) per millisecond.
func Unlimited(o *chat.Options) {
	o.RateLimit = chat.RateLimit{Limit: 1000, Window: time.Millisecond}
	o.ConnectLimit = chat.RateLimit{Limit: 1000, Window: time.Millisecond}
}

// SignedIn turns sign-in on: connections made with ConnectAs carry an
// account. (Its verifier refuses every token: the tests here connect as
// API Gateway does after the authorizer allowed the connection.)
func SignedIn(o *chat.Options) { o.Verifier = tokenVerifier{} }

// tokenVerifier accepts Token's tokens and refuses every other one (a
// signed-in harness has no authorizer events: ConnectAs stands for them).
type tokenVerifier struct{}

// tokenPrefix starts a token of Token's.
const tokenPrefix = "harness-token:"

// Token is a token the harness's verifier (SignedIn) accepts as the
// account's, valid for an hour of real time: a reauth frame's.
func Token(account, username string) string { return tokenPrefix + account + ":" + username }

func (tokenVerifier) Verify(_ context.Context, token string) (chat.Identity, error) {
	account, username, ok := strings.Cut(strings.TrimPrefix(token, tokenPrefix), ":")
	if !strings.HasPrefix(token, tokenPrefix) || !ok || account == "" || username == "" {
		return chat.Identity{}, &chat.Refusal{Reason: chat.AuthBadSignature}
	}
	return chat.Identity{AccountID: account, Username: username, ExpiresAt: time.Now().Add(time.Hour)}, nil
}

// New builds a Harness.
func New(t testing.TB, opts ...Option) *Harness {
	t.Helper()
	db, endpoint := DynamoDB(t)
	h := &Harness{t: t, DB: db, Tables: NewTables(t, db), GW: NewGateway(t), Metrics: &testkit.Buffer{}, Stage: "test",
		offset: new(atomic.Int64), accounts: new(sync.Map)}
	o := chat.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: h.Metrics, Now: h.Now}
	if testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	for _, f := range opts {
		f(&o)
	}
	proxy, err := ddbproxy.Start(endpoint, ddbproxy.AWSLike())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = proxy.Close()
		if err := proxy.Broken(); err != nil { // never on AWS
			t.Errorf("the DynamoDB proxy: %v", err)
		}
	})
	h.DynamoDB = proxy
	h.cfg, h.opt = wire.Config{Tables: h.Tables, ManagementEndpoint: h.GW.URL, DynamoDBEndpoint: proxy.Endpoint()}, o
	h.Service = h.Environment()
	h.Store = dynamo.New(db, h.Tables, o.Now)
	if s, ok := o.Shards.(*Shards); ok {
		s.h, h.Shards = h, s
		t.Cleanup(s.Wait) // before the proxy closes
	}
	return h
}

// Environment is another environment of the function: a Service wired as
// Service is, on the same tables, proxy and Gateway, sharing no memory
// with it (a fan-out shard runs on one).
func (h *Harness) Environment() *chat.Service {
	return wire.New(h.cfg, guarded(local.AWSConfig()), h.opt)
}

// Settle waits until the room index and eventually consistent reads show
// every write the handler has made so far (ddbproxy.Proxy.Settle): for a
// test's setup, where the design promises nothing until the index has
// caught up (a broadcast in the instant after a join may miss the
// newcomer), before an act step that runs with the faults still on.
func (h *Harness) Settle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.DynamoDB.Settle(ctx); err != nil {
		h.t.Fatalf("settle the index and the reads: %v", err)
	}
}

// NewConnID returns an id shaped like API Gateway's.
func NewConnID() string {
	b := make([]byte, 11)
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func (h *Harness) event(ctx context.Context, id, route, body string, query map[string]string) events.APIGatewayProxyResponse {
	h.t.Helper()
	eventType := "MESSAGE"
	switch route {
	case contract.RouteConnect:
		eventType = "CONNECT"
	case contract.RouteDisconnect:
		eventType = "DISCONNECT"
	}
	now := time.Now()
	var authorizer any
	if ctx, ok := h.accounts.Load(id); ok {
		authorizer = ctx
	}
	req := events.APIGatewayWebsocketProxyRequest{
		Body:                  body,
		QueryStringParameters: query,
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: route, EventType: eventType, ConnectionID: id, Stage: h.Stage,
			RequestTimeEpoch: h.Now().UnixMilli(), ConnectedAt: now.UnixMilli(), RequestID: fmt.Sprint(now.UnixNano()),
			Authorizer: authorizer,
		},
	}
	resp, err := h.Service.Handle(ctx, req)
	if err != nil {
		h.t.Fatalf("%s returned an error: %v", route, err)
	}
	return resp
}

// Invoke runs one event of a connection's route (a frame's route:
// contract.SelectRoute) through the handler with ctx, as API Gateway
// would, and returns the handler's response. It opens nothing on the
// Gateway: after a $connect API Gateway accepted, call GW.Open.
func (h *Harness) Invoke(ctx context.Context, id, route, body string, query map[string]string) events.APIGatewayProxyResponse {
	h.t.Helper()
	return h.event(ctx, id, route, body, query)
}

// SignIn gives connection id the authorizer's context of an account (id,
// username), which API Gateway passes with every event of the connection.
func (h *Harness) SignIn(id, account, username string) {
	h.accounts.Store(id, map[string]any{contract.AuthContextAccountID: account, contract.AuthContextUsername: username,
		"principalId": account})
}

// SignInWith gives connection id the context an authorizer's answer
// carries (Service.Authorize's Context), as API Gateway passes it to
// every event of the connection.
func (h *Harness) SignInWith(id string, authorizer map[string]any) {
	h.accounts.Store(id, authorizer)
}

// MakeModerator gives a signed-in connection's context the moderators
// group, as the authorizer does for a token that has it.
func (h *Harness) MakeModerator(id string) {
	if v, ok := h.accounts.Load(id); ok {
		v.(map[string]any)[contract.AuthContextModerator] = "true"
	}
}

// JoinModerator is JoinAs for an account whose verified token has the
// moderators group: the authorizer's context says it.
func (h *Harness) JoinModerator(account, room string) string {
	h.t.Helper()
	id := NewConnID()
	h.SignIn(id, account, account)
	v, _ := h.accounts.Load(id)
	v.(map[string]any)[contract.AuthContextModerator] = "true"
	q := map[string]string{}
	if room != "" {
		q["room"] = room
	}
	if resp := h.event(context.Background(), id, contract.RouteConnect, "", q); resp.StatusCode != 200 {
		h.t.Fatalf("connect as %s: status %d %s", account, resp.StatusCode, resp.Body)
	}
	h.GW.Open(id)
	return id
}

// Connect opens a connection with the given query (name, room, resume) and
// returns its id and the $connect response.
func (h *Harness) Connect(query map[string]string) (string, events.APIGatewayProxyResponse) {
	h.t.Helper()
	return h.ConnectCtx(context.Background(), query)
}

// ConnectCtx is Connect with a context (an invocation deadline).
func (h *Harness) ConnectCtx(ctx context.Context, query map[string]string) (string, events.APIGatewayProxyResponse) {
	h.t.Helper()
	id := NewConnID()
	resp := h.event(ctx, id, contract.RouteConnect, "", query)
	if resp.StatusCode == 200 {
		h.GW.Open(id)
	}
	return id, resp
}

// ConnectAs opens a connection signed in as the account (id, username),
// with the authorizer's context on this and every later event of the
// connection, and returns its id and the $connect response.
func (h *Harness) ConnectAs(account, username string, query map[string]string) (string, events.APIGatewayProxyResponse) {
	h.t.Helper()
	id := NewConnID()
	return id, h.ConnectAsID(id, account, username, query)
}

// ConnectAsID is ConnectAs for a connection id the test chose (NewConnID),
// so that it can recognise the $connect's requests before it runs.
func (h *Harness) ConnectAsID(id, account, username string, query map[string]string) events.APIGatewayProxyResponse {
	h.t.Helper()
	h.SignIn(id, account, username)
	resp := h.event(context.Background(), id, contract.RouteConnect, "", query)
	if resp.StatusCode == 200 {
		h.GW.Open(id)
	}
	return resp
}

// JoinAs connects signed in as the account (its username: account) to a
// room and fails the test unless it worked.
func (h *Harness) JoinAs(account, room string) string {
	h.t.Helper()
	q := map[string]string{}
	if room != "" {
		q["room"] = room
	}
	id, resp := h.ConnectAs(account, account, q)
	if resp.StatusCode != 200 {
		h.t.Fatalf("connect as %s: status %d %s", account, resp.StatusCode, resp.Body)
	}
	return id
}

// Join connects with a name in a room and fails the test unless it worked.
func (h *Harness) Join(name, room string) string {
	h.t.Helper()
	q := map[string]string{"name": name}
	if room != "" {
		q["room"] = room
	}
	id, resp := h.Connect(q)
	if resp.StatusCode != 200 {
		h.t.Fatalf("connect %s: status %d %s", name, resp.StatusCode, resp.Body)
	}
	return id
}

// Send delivers a frame as API Gateway would: the route picked from the
// frame by the shared route table. It returns the route response body.
func (h *Harness) Send(id, body string) string {
	h.t.Helper()
	return h.SendCtx(context.Background(), id, body)
}

// SendCtx is Send with a context (an invocation deadline).
func (h *Harness) SendCtx(ctx context.Context, id, body string) string {
	h.t.Helper()
	return h.event(ctx, id, contract.SelectRoute([]byte(body)), body, nil).Body
}

// Populate puts n members in a room without the joins' broadcasts (which
// would cost n² deliveries): their records, their names and their gateway
// connections, as if they had joined a minute ago. It returns their ids.
func (h *Harness) Populate(room string, n int) []string {
	h.t.Helper()
	ctx := context.Background()
	now := h.Now().Add(-time.Minute)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = NewConnID()
		c := chat.Connection{ID: ids[i], Room: room, Name: fmt.Sprintf("member-%d", i), ConnectedAt: now,
			ExpiresAt: now.Add(2 * time.Hour), ResumeToken: "t"}
		if _, err := h.Store.ClaimName(ctx, chat.Claim{Room: room, Name: c.Name, ConnID: c.ID, ExpiresAt: c.ExpiresAt}); err != nil {
			h.t.Fatal(err)
		}
		if err := h.Store.PutConnection(ctx, c); err != nil {
			h.t.Fatal(err)
		}
		h.GW.Open(c.ID)
	}
	return ids
}

// Disconnect runs $disconnect for a connection, as API Gateway does after a close.
func (h *Harness) Disconnect(id string) {
	h.t.Helper()
	h.GW.Vanish(id)
	h.event(context.Background(), id, contract.RouteDisconnect, "", nil)
}
