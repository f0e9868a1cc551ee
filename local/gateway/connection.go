// A connection's life in the stand-in: its messages read and dispatched to
// the handler as they arrive, the route responses sent back, and
// $disconnect when reading ends.

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/observability"
)

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

	idle := g.afterFunc(g.cfg.IdleTimeout, func() { c.closeWith(websocket.StatusGoingAway, "Going Away") })
	maxAge := g.afterFunc(g.cfg.MaxConnectionDuration, func() { c.closeWith(websocket.StatusGoingAway, "Going Away") })
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
		select {
		case slots <- struct{}{}:
		default:
			if g.slotWait != nil {
				g.slotWait(c.id)
			}
			slots <- struct{}{}
		}
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
