package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/observability"
)

// The @connections management API, answered the way API Gateway answers it
// so that the real SDK client maps every outcome to the same result type:
// errors carry the x-amzn-ErrorType header and a JSON body with a message.

// connectionInfo is GetConnection's answer.
type connectionInfo struct {
	ConnectedAt  string   `json:"connectedAt"`
	Identity     identity `json:"identity"`
	LastActiveAt string   `json:"lastActiveAt"`
}

type identity struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// awsTime is the ISO 8601 form the management API uses for timestamps.
func awsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (g *Gateway) serveManagement(w http.ResponseWriter, r *http.Request, escapedID string) {
	id, err := url.PathUnescape(escapedID)
	if err != nil || id == "" {
		writeError(w, http.StatusBadRequest, "BadRequestException", "Invalid connection id.")
		return
	}
	if d := g.faults.Load().Latency; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	c := g.lookup(r.Context(), id)
	if c == nil {
		g.logf("@connections %s %s 410 Gone", r.Method, id)
		writeError(w, http.StatusGone, "GoneException", "")
		return
	}
	switch r.Method {
	case http.MethodPost:
		g.post(w, r, c)
	case http.MethodGet:
		g.logManagement("@connections GET %s 200", id)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(connectionInfo{
			ConnectedAt:  awsTime(c.connectedAt),
			Identity:     identity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
			LastActiveAt: awsTime(time.UnixMilli(c.lastActive.Load())),
		})
	case http.MethodDelete:
		g.logManagement("@connections DELETE %s 204", id)
		c.closeWith(websocket.StatusNormalClosure, "")
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowedException", "Use GET, POST or DELETE.")
	}
}

func (g *Gateway) post(w http.ResponseWriter, r *http.Request, c *conn) {
	data, err := io.ReadAll(io.LimitReader(r.Body, g.cfg.MessageLimit+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequestException", "Could not read the request body.")
		return
	}
	if int64(len(data)) > g.cfg.MessageLimit {
		g.logf("@connections POST %s 413, over %d bytes", c.id, g.cfg.MessageLimit)
		writeError(w, http.StatusRequestEntityTooLarge, contract.PayloadTooLarge, "Message too long.")
		return
	}
	if f := g.faults.Load().StallPost; f != nil && f(c.id) {
		g.logf("@connections POST %s stalled (fault injected)", c.id)
		select {
		case <-r.Context().Done():
		case <-g.stop:
			writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", "Shutting down.")
		}
		return
	}
	if f := g.faults.Load().FailPost; f != nil && f(c.id) {
		g.logf("@connections POST %s 500 (fault injected)", c.id)
		writeError(w, http.StatusInternalServerError, "InternalServerErrorException", "Internal server error (injected).")
		return
	}
	// The write must not die with the caller's request: cancelling a write
	// would tear the client's connection down.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), writeTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, data); err != nil {
		g.logf("@connections POST %s 410 Gone (write failed: %v)", c.id, err)
		writeError(w, http.StatusGone, "GoneException", "")
		return
	}
	g.metric(observability.NamespaceAPI, "MessageCount", 1) // API Gateway counts messages to clients too
	g.logManagement("@connections POST %s 200, %d bytes", c.id, len(data))
	w.WriteHeader(http.StatusOK)
}

// writeError answers like AWS: the error type in x-amzn-ErrorType, which the
// SDK maps to its typed error, and a message in the body.
func writeError(w http.ResponseWriter, status int, errorType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-ErrorType", errorType)
	w.WriteHeader(status)
	var msg any
	if message != "" {
		msg = message
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"message": msg})
}

func (g *Gateway) logManagement(format string, args ...any) {
	if g.cfg.LogManagement {
		g.logf(format, args...)
	}
}

// serveAdmin is the local-only admin API at /_local/connections: GET lists
// the open connection ids; DELETE closes all of them with 1001 "Going Away",
// as API Gateway's 2-hour limit does, and answers once $disconnect has run
// for each.
func (g *Gateway) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		g.mu.Lock()
		ids := make([]string, 0, len(g.conns))
		for id := range g.conns {
			ids = append(ids, id)
		}
		g.mu.Unlock()
		slices.Sort(ids)
		writeJSON(w, map[string]any{"connections": ids})
	case http.MethodDelete:
		closed := g.closeAll()
		ids := make([]string, len(closed))
		for i, c := range closed {
			ids[i] = c.id
			select {
			case <-c.done:
			case <-r.Context().Done():
				return
			}
		}
		slices.Sort(ids)
		g.logf("closed %d connections (admin request)", len(ids))
		writeJSON(w, map[string]any{"closed": ids})
	default:
		w.Header().Set("Allow", "GET, DELETE")
		http.Error(w, "Use GET or DELETE.", http.StatusMethodNotAllowed)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
