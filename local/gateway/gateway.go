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
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
}

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

// message is one text message received from a client.
type message struct {
	data []byte
	at   time.Time
}

// serveConn reads the client's messages and invokes the handler for each as
// it arrives (see dispatcher). When reading ends, for whatever reason, it
// runs $disconnect at once, as API Gateway does: messages still in the
// handler carry on, and their route responses are dropped. With
// SerialFrames, $disconnect waits for them instead.
func (g *Gateway) serveConn(c *conn) {
	dispatch, drain := g.dispatcher(c)

	idle := time.AfterFunc(g.cfg.IdleTimeout, func() { c.closeWith(websocket.StatusGoingAway, "Going Away") })
	maxAge := time.AfterFunc(g.cfg.MaxConnectionDuration, func() { c.closeWith(websocket.StatusGoingAway, "Going Away") })
	var st closeStatus
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			st = g.readEnded(c, err)
			break
		}
		if typ == websocket.MessageBinary {
			// API Gateway takes no binary frames: it closes the connection
			// with 1003 and invokes nothing for the frame.
			c.closeWith(websocket.StatusUnsupportedData, "Binary frames are not supported")
			continue // reading ends with the close handshake
		}
		now := time.Now()
		idle.Reset(g.cfg.IdleTimeout)
		c.lastActive.Store(now.UnixMilli())
		dispatch(message{data: data, at: now})
	}
	idle.Stop()
	maxAge.Stop()
	close(c.ended) // route responses from here on are dropped

	g.mu.Lock()
	delete(g.conns, c.id)
	g.mu.Unlock()

	c.closeOnce.Do(func() {}) // no close may start after this point
	c.closing.Wait()
	_ = c.ws.CloseNow()

	drain()
	g.disconnect(c, st)
	close(c.done)
}

// dispatcher returns how serveConn hands a message to the handler, and what
// it waits for before $disconnect. By default, as on AWS, every message gets
// its own invocation at once, so messages of one connection are handled
// concurrently and answered in the order they finish; with SerialFrames one
// worker handles them in order. Either way at most maxInFlight are taken
// in before dispatch blocks, and with it the reading.
func (g *Gateway) dispatcher(c *conn) (dispatch func(message), drain func()) {
	if g.cfg.SerialFrames {
		queue := make(chan message, maxInFlight)
		worked := make(chan struct{})
		go func() {
			defer close(worked)
			for m := range queue {
				g.message(c, m)
			}
		}()
		return func(m message) { queue <- m }, func() { close(queue); <-worked }
	}
	slots := make(chan struct{}, maxInFlight)
	dispatch = func(m message) {
		slots <- struct{}{}
		// The connection's own count keeps running above zero here, so
		// Shutdown, which waits for running, also waits for this message.
		g.running.Add(1)
		go func() {
			defer g.running.Done()
			defer func() { <-slots }()
			g.message(c, m)
		}()
	}
	return dispatch, func() {}
}

// readEnded works out why reading from the client failed and closes the
// connection with 1009 when a limit was the reason.
func (g *Gateway) readEnded(c *conn, err error) closeStatus {
	if st := c.gatewayClose(); st != nil {
		return *st
	}
	if c.frames.tripped.Load() {
		c.closeWith(websocket.StatusMessageTooBig, fmt.Sprintf("Frame over %d bytes", g.cfg.FrameLimit))
		return *c.gatewayClose()
	}
	if errors.Is(err, websocket.ErrMessageTooBig) {
		c.closeWith(websocket.StatusMessageTooBig, fmt.Sprintf("Message over %d bytes", g.cfg.MessageLimit))
		return *c.gatewayClose()
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return closeStatus{ce.Code, ce.Reason}
	}
	return closeStatus{websocket.StatusAbnormalClosure, "Connection lost"}
}

// message runs the handler for one client message and sends the route
// response back when the route has one.
func (g *Gateway) message(c *conn, m message) {
	route := contract.SelectRoute(m.data)
	ev := g.messageEvent(c, route, string(m.data), m.at)
	resp, took, err := g.invoke(ev)
	g.metric(observability.NamespaceAPI, "MessageCount", 1)
	g.integration(took, resp.StatusCode, err)
	if err != nil {
		g.logf("%s %s error after %s: %v", c.id, route, took, err)
		// What API Gateway sends the client when the integration fails.
		frame, _ := json.Marshal(map[string]string{
			"message":      "Internal server error",
			"connectionId": c.id,
			"requestId":    ev.RequestContext.RequestID,
		})
		g.send(c, route, frame)
		return
	}
	g.logf("%s %s %d in %s, %d bytes", c.id, route, resp.StatusCode, took, len(m.data))
	if r, ok := contract.LookupRoute(route); ok && r.TwoWay && resp.Body != "" {
		if n := len(resp.Body); int64(n) > g.cfg.MessageLimit {
			// API Gateway does not deliver a message over its limit.
			g.logf("%s %s route response of %d bytes not delivered: over the %d-byte message limit", c.id, route, n, g.cfg.MessageLimit)
			return
		}
		g.send(c, route, []byte(resp.Body))
	}
}

// send writes a route response (or the error frame) for a message of route
// to the client. A connection that has ended gets nothing: its messages may
// still be in the handler while it closes and its $disconnect runs.
func (g *Gateway) send(c *conn, route string, frame []byte) {
	select {
	case <-c.ended:
		g.logf("%s %s route response dropped: the connection has ended", c.id, route)
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		g.logf("%s %s route response not delivered: %v", c.id, route, err)
		return
	}
	g.metric(observability.NamespaceAPI, "MessageCount", 1) // a message to the client, as API Gateway counts it
}

func (g *Gateway) disconnect(c *conn, st closeStatus) {
	if f := g.faults.Load().DropDisconnect; f != nil && f(c.id) {
		g.logf("%s %s (%d %q) dropped (fault injected)", c.id, routeDisconnect, st.code, st.reason)
		return
	}
	ev := g.disconnectEvent(c, st, time.Now())
	resp, took, err := g.invoke(ev)
	g.integration(took, resp.StatusCode, err)
	if err != nil {
		g.logf("%s %s (%d %q) error after %s: %v", c.id, routeDisconnect, st.code, st.reason, took, err)
		return
	}
	g.logf("%s %s (%d %q) %d in %s", c.id, routeDisconnect, st.code, st.reason, resp.StatusCode, took)
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
// token) may be secrets, and no secret goes into a log.
func query(r *http.Request) string {
	q := r.URL.Query()
	if len(q) == 0 {
		return ""
	}
	for k, vs := range q {
		if k != "name" && k != "room" {
			for i := range vs {
				vs[i] = "***"
			}
		}
	}
	s, _ := url.QueryUnescape(q.Encode())
	return " ?" + s
}
