package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"maps"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Event types of requestContext.eventType.
const (
	eventConnect    = "CONNECT"
	eventMessage    = "MESSAGE"
	eventDisconnect = "DISCONNECT"
)

// newID returns an identifier in the format API Gateway uses for connection,
// message and request ids: 11 random bytes, standard base64 — 16 characters
// ending in "=", such as "L0SM9cOFvHcCIhw=". Ids may contain "/" and "+",
// which is why the management API URL-decodes them.
func newID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// event returns the fields every event of connection c has.
func (g *Gateway) event(c *conn, routeKey, eventType string, at time.Time) events.APIGatewayWebsocketProxyRequest {
	requestID := newID()
	ev := events.APIGatewayWebsocketProxyRequest{
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey:          routeKey,
			EventType:         eventType,
			ConnectionID:      c.id,
			ConnectedAt:       c.connectedAt.UnixMilli(),
			RequestTimeEpoch:  at.UnixMilli(),
			RequestTime:       at.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestID:         requestID,
			ExtendedRequestID: requestID,
			MessageDirection:  "IN",
			DomainName:        c.host,
			Stage:             g.cfg.Stage,
			APIID:             g.cfg.APIID,
			Identity: events.APIGatewayRequestIdentity{
				SourceIP:  c.sourceIP,
				UserAgent: c.userAgent,
			},
		},
		IsBase64Encoded: false,
	}
	if c.authorizer != nil {
		// After an authorized $connect, API Gateway passes the
		// authorizer's context to every event of the connection. Each
		// event gets its own copy, as each invocation gets its own JSON.
		ev.RequestContext.Authorizer = maps.Clone(c.authorizer)
	}
	return ev
}

// connectEvent adds what only $connect carries: the handshake's query string
// and headers, plus the X-Forwarded-* headers API Gateway adds.
func (g *Gateway) connectEvent(c *conn, r *http.Request, at time.Time) events.APIGatewayWebsocketProxyRequest {
	ev := g.event(c, routeConnect, eventConnect, at)
	h := r.Header.Clone()
	h.Set("Host", r.Host)
	h.Set("X-Forwarded-For", c.sourceIP)
	h.Set("X-Forwarded-Proto", "http")
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		h.Set("X-Forwarded-Port", port)
	}
	ev.Headers = make(map[string]string, len(h))
	ev.MultiValueHeaders = make(map[string][]string, len(h))
	for k, vs := range h {
		ev.Headers[k] = vs[len(vs)-1]
		ev.MultiValueHeaders[k] = vs
	}
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = make(map[string]string, len(q))
		ev.MultiValueQueryStringParameters = q
		for k, vs := range q {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
		}
	}
	return ev
}

func (g *Gateway) messageEvent(c *conn, routeKey string, body string, at time.Time) events.APIGatewayWebsocketProxyRequest {
	ev := g.event(c, routeKey, eventMessage, at)
	ev.RequestContext.MessageID = newID()
	ev.Body = body
	return ev
}

func (g *Gateway) disconnectEvent(c *conn, st closeStatus, at time.Time) events.APIGatewayWebsocketProxyRequest {
	ev := g.event(c, routeDisconnect, eventDisconnect, at)
	ev.RequestContext.DisconnectStatusCode = int64(st.code)
	reason := st.reason
	ev.RequestContext.DisconnectReason = &reason
	return ev
}
