package chattest

// Crash points: one invocation killed right after its k-th DynamoDB request
// was applied, as a Lambda timeout or an out-of-memory kill would kill it.
// Nothing the invocation does after that point has any effect: its later
// DynamoDB requests are dropped by the proxy (ddbproxy.Faults.Drop) and its
// later posts by the Gateway, and its context is cancelled. A request the
// invocation makes on a context that is not cancelled after the kill (one
// detached with context.WithoutCancel, or a goroutine that outlived the
// invocation) is refused and reported (Crash.Late).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"

	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Crash is one invocation run by Cut: the DynamoDB requests it made before
// it was killed, and what it did after.
type Crash struct {
	after int // requests let through; < 0: never killed at a request
	// atPost are the posts let through before the kill (CutAtPost); < 0:
	// never killed at a post (Cut: the first post after the after-th request
	// kills it).
	atPost int

	mu       sync.Mutex
	cond     *sync.Cond
	reqs     []Request // the requests let through, in order of arrival
	answered int       // of the requests, those the proxy has answered
	posts    []string  // connections posted to before the kill
	killing  bool
	killed   bool
	next     string // what the invocation did first after its k-th request
	ended    bool   // the invocation returned
	late     []string
	cancel   context.CancelFunc
}

// Request is one DynamoDB request as the proxy received it.
type Request struct {
	// Op is the operation ("UpdateItem"); Table the table's kind
	// ("Connections", "Messages": the test's prefix left out); Key the
	// item's key, a Query's index and values, or a transaction's actions.
	Op, Table, Key string
}

func (r Request) String() string { return fmt.Sprintf("%s %s %s", r.Op, r.Table, r.Key) }

// Requests are the DynamoDB requests the invocation made before it was
// killed (all of them when it was not), in order of arrival.
func (c *Crash) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.reqs...)
}

// Killed reports whether the invocation was killed: it tried a request or a
// post after its k-th request. After is what that was.
func (c *Crash) Killed() (killed bool, after string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killed, c.next
}

// Posts are the connections the invocation posted to (or closed: DELETE
// @connections) before it was killed.
func (c *Crash) Posts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.posts...)
}

// Late lists the requests and posts the invocation made on a live context
// after it was killed or had returned: each is a code path that detaches
// from the invocation's context. They were refused.
func (c *Crash) Late() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.late...)
}

// Cut runs invoke, one invocation of the handler, with a context that is
// killed right after the invocation's after-th DynamoDB request was
// applied (after < 0: never; Requests then counts them all). invoke must
// pass the context to the handler and start nothing else on the Harness:
// every DynamoDB request and post made meanwhile is taken for the
// invocation's.
func (h *Harness) Cut(after int, invoke func(ctx context.Context)) *Crash {
	h.t.Helper()
	return h.cut(&Crash{after: after, atPost: -1}, invoke)
}

// CutAtPost runs invoke as Cut does, but kills the invocation at its
// (posts+1)-th post or close (DELETE @connections), as a timeout between two
// deliveries of a fan-out would: every DynamoDB request before it is let
// through, the posts before it are delivered, nothing after it happens. Run
// the Service with one delivery at a time (chat.Options.PoolSize 1) to
// number its posts in their order.
func (h *Harness) CutAtPost(posts int, invoke func(ctx context.Context)) *Crash {
	h.t.Helper()
	return h.cut(&Crash{after: -1, atPost: posts}, invoke)
}

func (h *Harness) cut(c *Crash, invoke func(ctx context.Context)) *Crash {
	c.cond = sync.NewCond(&c.mu)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), crashKey{}, c))
	c.cancel = cancel
	before := h.DynamoDB.Injected() // the test's own faults, kept
	f := before
	f.Drop = c.drop
	h.DynamoDB.SetObserver(c.observe)
	h.DynamoDB.Inject(f)
	h.GW.setDrop(c.dropPost)
	defer func() {
		h.GW.setDrop(nil)
		h.DynamoDB.Inject(before)
		h.DynamoDB.SetObserver(nil)
	}()
	invoke(ctx)
	c.mu.Lock()
	c.killedAtReturn()
	c.ended = true
	cancel() // the invocation is over: whatever still runs has no context
	c.mu.Unlock()
	return c
}

// drop lets the first after requests through and kills the invocation at
// the next one, once those are applied (the kill must not cut them short:
// DynamoDB applies a request it received whatever becomes of the caller).
func (c *Crash) drop(w ddbproxy.Write) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killing || c.ended {
		return true
	}
	r := describe(w)
	if c.after < 0 || len(c.reqs) < c.after {
		c.reqs = append(c.reqs, r)
		return false
	}
	c.killing = true
	for c.answered < len(c.reqs) {
		c.cond.Wait()
	}
	c.kill("DynamoDB " + r.String())
	return true
}

func (c *Crash) observe(ddbproxy.Observation) {
	c.mu.Lock()
	c.answered++
	c.cond.Broadcast()
	c.mu.Unlock()
}

// dropPost kills the invocation at its first post or close (DELETE
// @connections) after its k-th request, or (CutAtPost) at the one after its
// first atPost.
func (c *Crash) dropPost(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.killing || c.ended:
		return true
	case c.atPost >= 0 && len(c.posts) < c.atPost,
		c.atPost < 0 && (c.after < 0 || len(c.reqs) < c.after):
		c.posts = append(c.posts, id)
		return false
	}
	c.killing = true
	c.kill("PostToConnection " + id)
	return true
}

// AnswerLost reports, once the handler returned, whether its answer is
// lost: the invocation of ctx (given by Cut) was killed. An invocation that
// made its k requests and nothing after them is killed at its return: its
// answer comes after the kill point (API Gateway fails the handshake, the
// client hears nothing).
func AnswerLost(ctx context.Context) bool {
	c, ok := ctx.Value(crashKey{}).(*Crash)
	if !ok {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.killedAtReturn()
	return c.killed
}

func (c *Crash) killedAtReturn() {
	if !c.killing && (c.after >= 0 && len(c.reqs) >= c.after || c.atPost >= 0 && len(c.posts) >= c.atPost) {
		c.killing = true
		c.kill("its answer (the handler returned)")
	}
}

func (c *Crash) kill(next string) {
	c.killed, c.next = true, next
	c.cancel()
}

type crashKey struct{}

// attemptKey marks the context of an SDK attempt the guard has counted.
type attemptKey struct{}

// handOver is a request that is not DynamoDB's (an asynchronous Invoke of
// a fan-out shard), as a crash point: counted like a DynamoDB request by
// Cut and by KillAfter, and refused once the invocation was killed.
func handOver(ctx context.Context, r Request) error {
	if err := guard(ctx, r.String(), true); err != nil {
		return err
	}
	if c, ok := ctx.Value(crashKey{}).(*Crash); ok && !c.op(r) {
		return errKilled
	}
	return nil
}

// op lets a request that is not DynamoDB's through as one of the first
// after, answered at once (it is applied in this process), or kills the
// invocation at it.
func (c *Crash) op(r Request) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killing || c.ended {
		return false
	}
	if c.after < 0 || len(c.reqs) < c.after {
		c.reqs = append(c.reqs, r)
		c.answered++
		return true
	}
	c.killing = true
	for c.answered < len(c.reqs) {
		c.cond.Wait()
	}
	c.kill(r.String())
	return false
}

var errKilled = errors.New("chattest: the invocation was killed")

// guard refuses a request made on a live context of an invocation that was
// killed or has returned, and records it. An invocation killed by its own
// context (KillAfter) counts the request too: counted says whether this
// call is the request's one count (a signed request's credentials are
// asked for after its attempt was counted).
func guard(ctx context.Context, what string, counted bool) error {
	if k, ok := ctx.Value(killKey{}).(*Kill); ok && counted {
		if err := k.op(ctx, what); err != nil {
			return err
		}
	}
	c, ok := ctx.Value(crashKey{}).(*Crash)
	if !ok {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.killed && !c.ended {
		return nil // a request being killed is dropped by the proxy
	}
	if ctx.Err() == nil {
		when := "after it was killed"
		if !c.killed {
			when = "after it returned"
		}
		c.late = append(c.late, fmt.Sprintf("%s on a live context %s", what, when))
	}
	return errKilled
}

// guarded adds the guard to every SDK client built from cfg (each attempt
// of every DynamoDB request, and a delivery the SDK client makes) and to
// its credentials (which the management API poster asks for on every
// delivery it makes itself).
func guarded(cfg aws.Config) aws.Config {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		// Each attempt (after the retry middleware), before its credentials are asked for.
		mw := middleware.FinalizeMiddlewareFunc("chattestCrashGuard",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if err := guard(ctx, middleware.GetOperationName(ctx), true); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				return next.HandleFinalize(context.WithValue(ctx, attemptKey{}, true), in)
			})
		if err := s.Finalize.Insert(mw, "GetIdentity", middleware.Before); err != nil {
			return s.Finalize.Add(mw, middleware.After)
		}
		return nil
	})
	creds := cfg.Credentials
	cfg.Credentials = aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		_, attempt := ctx.Value(attemptKey{}).(bool) // an SDK attempt, counted above
		if err := guard(ctx, "a signed request (PostToConnection)", !attempt); err != nil {
			return aws.Credentials{}, err
		}
		return creds.Retrieve(ctx)
	})
	return cfg
}

// describe names a request by operation, table and key.
func describe(w ddbproxy.Write) Request {
	var in struct {
		TableName                 string
		IndexName                 string
		Key, Item                 map[string]map[string]any
		ExpressionAttributeValues map[string]map[string]any
		UpdateExpression          string
		TransactItems             []map[string]struct {
			TableName        string
			Key, Item        map[string]map[string]any
			UpdateExpression string
		}
	}
	_ = json.Unmarshal(w.Body, &in)
	r := Request{Op: w.Op, Table: tableKind(in.TableName)}
	switch {
	case w.Op == "Query":
		r.Key = strings.TrimSpace(in.IndexName + " " + values(in.ExpressionAttributeValues, nil))
	case len(in.TransactItems) > 0:
		var parts []string
		for _, it := range in.TransactItems {
			for op, a := range it {
				parts = append(parts, fmt.Sprintf("%s %s %s%s", op, tableKind(a.TableName), itemKey(a.Key, a.Item), update(a.UpdateExpression)))
			}
		}
		r.Key = "[" + strings.Join(parts, "; ") + "]"
	default:
		r.Key = itemKey(in.Key, in.Item) + update(in.UpdateExpression)
	}
	return r
}

// tableKind leaves out the test's prefix of a table name (NewTables).
func tableKind(name string) string {
	if i := strings.LastIndex(name, "-"); i >= 0 {
		return name[i+1:]
	}
	return name
}

func itemKey(key, item map[string]map[string]any) string {
	if key != nil {
		return values(key, nil)
	}
	return values(item, []string{"pk", "stream", "id"})
}

// values renders attribute values as name=value, sorted; only those named
// in only, when given.
func values(m map[string]map[string]any, only []string) string {
	var out []string
	for k, v := range m {
		if only != nil && !contains(only, k) {
			continue
		}
		for _, x := range v {
			out = append(out, fmt.Sprintf("%s=%v", k, x))
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// update is the first clause of an update expression, to tell updates of
// one item apart.
func update(expr string) string {
	if expr == "" {
		return ""
	}
	if len(expr) > 32 {
		expr = expr[:32] + "…"
	}
	return " (" + expr + ")"
}
