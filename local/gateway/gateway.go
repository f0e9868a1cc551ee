// Package gateway is a local stand-in for API Gateway's WebSocket API: it
// accepts WebSocket clients, turns their handshakes, frames and closes into
// the events API Gateway sends a Lambda function ($connect, routed messages,
// $disconnect), calls the handler in-process, and serves the @connections
// management API the handler answers through — on one port, with API
// Gateway's limits. It knows nothing about the chat: any handler with the
// Lambda signature runs behind it.
package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/observability"
)

// Handler is a Lambda handler for the API's routes.
type Handler func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

const (
	routeConnect    = contract.RouteConnect
	routeDisconnect = contract.RouteDisconnect

	// writeTimeout bounds one frame written to a client (a route response
	// or a management API POST); a client that reads nothing for this long
	// is disconnected.
	writeTimeout = 10 * time.Second
	// maxInFlight is how many messages of one connection may be in the
	// handler at once (with SerialFrames: wait for it) before the gateway
	// stops reading from the client until one is done. API Gateway has no
	// such cap — it keeps reading and invokes the function for every frame,
	// up to the account's Lambda concurrency — but the stand-in runs every
	// invocation in one process, and a flooding client must not start
	// goroutines without bound.
	maxInFlight = 16
)

// Gateway is the stand-in; it is an http.Handler serving the WebSocket
// endpoint, the management API, a local admin API and the page.
type Gateway struct {
	cfg     Config
	faults  atomic.Pointer[Faults] // cfg.Faults, replaced by SetFaults
	handler Handler
	static  http.Handler

	mu       sync.Mutex
	conns    map[string]*conn
	stopping bool
	stop     chan struct{} // closed when Shutdown starts
	running  sync.WaitGroup
	logMu    sync.Mutex
	newID    func() string // replaced in tests to get ids with "/" and "+"
	inFlight atomic.Int64  // invocations running now (ConcurrentExecutions)
	// afterFunc starts a connection's idle and maximum-age timers;
	// time.AfterFunc, replaced in tests by timers the test moves.
	afterFunc func(time.Duration, func()) timer
	// slotWait, when set (by tests), is called when a connection's message
	// must wait for one of its maxInFlight slots.
	slotWait func(connID string)
}

// timer is what serveConn needs of a *time.Timer.
type timer interface {
	Reset(time.Duration) bool
	Stop() bool
}

func afterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }

// New returns a gateway that calls h for every event.
func New(h Handler, cfg Config) *Gateway {
	cfg = cfg.withDefaults()
	g := &Gateway{
		cfg:     cfg,
		handler: h,
		static:  staticHandler(cfg.StaticDir),
		conns:   make(map[string]*conn),
		stop:    make(chan struct{}),
		newID:   newID,

		afterFunc: afterFunc,
	}
	g.faults.Store(&cfg.Faults)
	return g
}

// Config returns the configuration in effect, defaults filled in; its
// Faults are the ones in effect now.
func (g *Gateway) Config() Config {
	c := g.cfg
	c.Faults = *g.faults.Load()
	return c
}

// SetFaults replaces the faults for every later event and management API
// call: a benchmark fills a room at loopback speed, then measures a
// broadcast at AWS's latency.
func (g *Gateway) SetFaults(f Faults) { g.faults.Store(&f) }

// conn is one open client connection.
type conn struct {
	id          string
	ws          *websocket.Conn
	frames      *frameConn
	connectedAt time.Time
	host        string
	sourceIP    string
	userAgent   string
	authorizer  map[string]any // requestContext.authorizer of its events; nil without an authorizer
	lastActive  atomic.Int64   // unix milliseconds of the last client message

	closeOnce sync.Once
	closing   sync.WaitGroup // the Close started by closeWith
	closeMu   sync.Mutex
	closedBy  *closeStatus // set when the gateway closed the connection

	ready chan struct{} // closed when the handshake is over; ws is nil if it failed
	ended chan struct{} // closed when reading from the client has ended
	done  chan struct{} // closed once $disconnect has run
}

// closeStatus is how a connection ended, as $disconnect reports it.
type closeStatus struct {
	code   websocket.StatusCode
	reason string
}

// closeWith closes the connection from the gateway's side with a close
// frame; only the first call counts. It does not wait.
func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.closeMu.Lock()
		c.closedBy = &closeStatus{code, reason}
		c.closeMu.Unlock()
		c.closing.Add(1)
		go func() {
			defer c.closing.Done()
			_ = c.ws.Close(code, reason)
		}()
	})
}

func (c *conn) gatewayClose() *closeStatus {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.closedBy
}

// ServeHTTP routes a request to the WebSocket endpoint, the management API,
// the admin API or the page.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	stage := "/" + g.cfg.Stage
	switch {
	case path == stage || path == stage+"/":
		g.serveWebSocket(w, r)
	case strings.HasPrefix(path, stage+"/@connections/"):
		g.serveManagement(w, r, strings.TrimPrefix(path, stage+"/@connections/"))
	case strings.HasPrefix(path, "/@connections/"):
		g.serveManagement(w, r, strings.TrimPrefix(path, "/@connections/"))
	case path == "/_local/connections":
		g.serveAdmin(w, r)
	case path == "/config.json":
		g.countedPage(w, r, http.HandlerFunc(g.serveConfig))
	default:
		g.countedPage(w, r, g.static)
	}
}

// WebSocketURL is the URL a client on host (such as "127.0.0.1:8080")
// connects to.
func (g *Gateway) WebSocketURL(host string) string {
	return "ws://" + host + "/" + g.cfg.Stage
}

func (g *Gateway) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "This is the WebSocket endpoint: connect with a WebSocket client to "+g.WebSocketURL(r.Host), http.StatusUpgradeRequired)
		return
	}
	g.mu.Lock()
	if g.stopping {
		g.mu.Unlock()
		http.Error(w, "The local gateway is shutting down.", http.StatusServiceUnavailable)
		return
	}
	g.running.Add(1)
	g.mu.Unlock()
	defer g.running.Done()

	now := time.Now()
	c := &conn{
		id:          g.newID(),
		connectedAt: now,
		host:        r.Host,
		sourceIP:    remoteIP(r),
		userAgent:   r.UserAgent(),
		ready:       make(chan struct{}),
		ended:       make(chan struct{}),
		done:        make(chan struct{}),
	}
	c.lastActive.Store(now.UnixMilli())

	ev := g.connectEvent(c, r, now)
	authorized := ""
	if g.cfg.Authorize != nil {
		auth, status, outcome := g.authorize(r, ev)
		if status != 0 {
			g.metric(observability.NamespaceAPI, "ClientError", boolValue(status < 500))
			g.logf("%s %s refused %d: %s, from %s%s", c.id, routeConnect, status, outcome, c.sourceIP, query(r))
			// API Gateway's answers, without invoking $connect.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			msg := map[int]string{http.StatusUnauthorized: "Unauthorized", http.StatusForbidden: "Forbidden"}[status]
			if msg == "" {
				msg = "Internal server error"
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
			return
		}
		c.authorizer = auth
		ev.RequestContext.Authorizer = auth
		authorized = " (" + outcome + ")"
	}
	resp, took, err := g.invoke(ev)
	g.metric(observability.NamespaceAPI, "ConnectCount", 1)
	g.metric(observability.NamespaceAPI, "ClientError", 0)
	g.integration(took, resp.StatusCode, err)
	if err != nil {
		g.logf("%s %s error after %s: %v", c.id, routeConnect, took, err)
		http.Error(w, "Internal server error", http.StatusInternalServerError)
		return
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		g.logf("%s %s refused %d in %s%s from %s%s", c.id, routeConnect, resp.StatusCode, took, authorized, c.sourceIP, query(r))
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.WriteString(w, resp.Body)
		return
	}

	// The connection is listed before the handshake completes, so that a
	// client holding its 101 can be posted to at once; management calls
	// wait for ready.
	g.mu.Lock()
	g.conns[c.id] = c
	g.mu.Unlock()
	fw := &frameLimitWriter{ResponseWriter: w, limit: g.cfg.FrameLimit}
	ws, err := websocket.Accept(fw, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		g.mu.Lock()
		delete(g.conns, c.id)
		g.mu.Unlock()
		close(c.ready)
		close(c.ended)
		// The handler has accepted a connection that never opened; tell it
		// the connection is gone, as API Gateway would.
		g.logf("%s handshake failed after %s: %v", c.id, routeConnect, err)
		g.disconnect(c, closeStatus{websocket.StatusAbnormalClosure, "Handshake failed"})
		close(c.done)
		return
	}
	ws.SetReadLimit(g.cfg.MessageLimit)
	c.ws, c.frames = ws, fw.conn
	close(c.ready)
	g.logf("%s %s %d in %s%s from %s%s", c.id, routeConnect, resp.StatusCode, took, authorized, c.sourceIP, query(r))

	g.mu.Lock()
	stopping := g.stopping
	g.mu.Unlock()
	if stopping {
		c.closeWith(websocket.StatusGoingAway, "Going Away")
	}
	g.serveConn(c)
}

// invoke calls the handler the way Lambda would (see call).
func (g *Gateway) invoke(ev events.APIGatewayWebsocketProxyRequest) (resp events.APIGatewayProxyResponse, took time.Duration, err error) {
	took, err = g.call(ev.RequestContext.RequestID, func(ctx context.Context) (err error) {
		resp, err = g.handler(ctx, ev)
		return err
	})
	return resp, took, err
}

// call runs one invocation of the function the way Lambda would: with a
// deadline, a Lambda context carrying the request id, and a panic turned
// into an error.
func (g *Gateway) call(requestID string, fn func(context.Context) error) (took time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.HandlerTimeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID})
	start := time.Now()
	concurrent := g.inFlight.Add(1)
	defer func() {
		g.inFlight.Add(-1)
		took = time.Since(start).Round(10 * time.Microsecond)
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
		if err == nil && ctx.Err() != nil {
			err = fmt.Errorf("handler timed out after %s", g.cfg.HandlerTimeout)
		}
		g.invoked(took, err, concurrent)
	}()
	return 0, fn(ctx)
}

// Shutdown closes every open connection with 1001 "Going Away", waits until
// $disconnect has run for each and every message still in the handler is
// done, and refuses new connections from then on.
// Management API calls keep working meanwhile, so $disconnect handlers can
// still notify other connections. Shut the HTTP server down afterwards.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	if !g.stopping {
		g.stopping = true
		close(g.stop)
	}
	g.mu.Unlock()
	g.closeAll()
	done := make(chan struct{})
	go func() {
		g.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("local gateway shutdown: %w", ctx.Err())
	}
}

// closeAll closes every open connection with 1001 "Going Away" and returns
// them.
func (g *Gateway) closeAll() []*conn {
	g.mu.Lock()
	all := make([]*conn, 0, len(g.conns))
	for _, c := range g.conns {
		all = append(all, c)
	}
	g.mu.Unlock()
	open := all[:0]
	for _, c := range all {
		if <-c.ready; c.ws != nil {
			c.closeWith(websocket.StatusGoingAway, "Going Away")
			open = append(open, c)
		}
	}
	return open
}

// lookup returns the open connection id, waiting for a handshake in
// progress; nil when there is none.
func (g *Gateway) lookup(ctx context.Context, id string) *conn {
	g.mu.Lock()
	c := g.conns[id]
	g.mu.Unlock()
	if c == nil {
		return nil
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil
	}
	if c.ws == nil {
		return nil
	}
	return c
}

func (g *Gateway) logf(format string, args ...any) {
	line := time.Now().Format("15:04:05.000 ") + fmt.Sprintf(format, args...) + "\n"
	g.logMu.Lock()
	defer g.logMu.Unlock()
	_, _ = io.WriteString(g.cfg.Log, line)
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// query is the handshake's query string for a log line. Only the values of
// name and room are shown: others (the chat's resume token, a client's auth
// token) may be secrets, and no secret goes into a log. Each shown value is
// client input, so it goes through clientText: a name with a newline cannot
// start a log line of its own.
func query(r *http.Request) string {
	q := r.URL.Query()
	if len(q) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(q))
	var b strings.Builder
	for i, k := range keys {
		for j, v := range q[k] {
			if i+j > 0 {
				b.WriteByte('&')
			}
			if k != "name" && k != "room" {
				v = "***"
			} else {
				v = clientText(v)
			}
			b.WriteString(clientText(k) + "=" + v)
		}
	}
	return " ?" + b.String()
}

// clientTextMax bounds how much of one client-supplied value a log line
// shows.
const clientTextMax = 64

// clientText is a value a client chose, fit for a log line: as it is when
// every character is printable and neither a space, a quote, "&" nor "=";
// else Go-quoted ("a\nb"), so no character can end the line or pass for
// another field. Past clientTextMax characters it is cut, ending in "…".
func clientText(s string) string {
	if n := []rune(s); len(n) > clientTextMax {
		s = string(n[:clientTextMax]) + "…"
	}
	plain := s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r) || unicode.IsSpace(r) || strings.ContainsRune(`"'&=\`, r)
	})
	if plain {
		return s
	}
	return strconv.Quote(s)
}
