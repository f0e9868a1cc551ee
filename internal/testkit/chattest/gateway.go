package chattest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// Gateway stands in for the management API (POST /@connections/{id}). Each
// live connection has an inbox of the frames posted to it. Connections that
// were never opened, or have vanished, answer 410 GoneException the way
// API Gateway does; connections marked failing answer 500; a frame over
// API Gateway's message limit (contract.MessageLimit, 128 KB) answers 413
// PayloadTooLargeException and is not delivered, as on AWS.
type Gateway struct {
	*httptest.Server
	mu      sync.Mutex
	inbox   map[string][]json.RawMessage
	failing map[string]bool
	// lose: connections whose next DELETEs are answered 500 and close
	// nothing (a close throttled or failed: LoseClose), by how many.
	lose   map[string]int
	posts  atomic.Int64
	drop   func(id string) bool // Cut's: posts and closes of a killed invocation
	closed []string             // by DELETE
	// delivered keeps what a connection closed by DELETE was sent before
	// its close: its client got those frames (Take gives them).
	delivered map[string][]json.RawMessage
	// tooLarge counts the POSTs refused as over the message limit.
	tooLarge int
	// Latency, when set, delays every POST, like a call to AWS would take.
	Latency time.Duration
	// Discard, when set, drops delivered frames instead of keeping them in
	// the inboxes (for benchmarks).
	Discard bool
	// OnPost, when set (before the handler runs), is called with the
	// connection id of every POST as it arrives, before it is answered:
	// a test moves a DeadlineClock there.
	OnPost func(id string)
}

// close answers DELETE @connections/{id} as API Gateway does: a live
// connection is closed (204; the test runs its $disconnect if it wants
// one) and posts to it answer 410; another answers 410.
func (g *Gateway) close(w http.ResponseWriter, id string) {
	g.mu.Lock()
	if g.lose[id] > 0 {
		g.lose[id]--
		g.mu.Unlock()
		w.Header().Set("X-Amzn-Errortype", "InternalServerErrorException")
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	box, live := g.inbox[id]
	if live {
		if len(box) > 0 {
			g.delivered[id] = append(g.delivered[id], box...)
		}
		delete(g.inbox, id)
		g.closed = append(g.closed, id)
	}
	g.mu.Unlock()
	if !live {
		w.Header().Set("X-Amzn-Errortype", "GoneException")
		w.WriteHeader(http.StatusGone)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Closed lists the connections closed through DELETE @connections, in order.
func (g *Gateway) Closed() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.closed...)
}

// NewGateway starts a Gateway; it stops when the test ends.
func NewGateway(t testing.TB) *Gateway {
	g := &Gateway{inbox: map[string][]json.RawMessage{}, failing: map[string]bool{}, lose: map[string]int{}, delivered: map[string][]json.RawMessage{}}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, "/@connections/")
	if !ok || (r.Method != http.MethodPost && r.Method != http.MethodDelete) {
		http.Error(w, "not supported", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if r.Method == http.MethodPost {
		g.posts.Add(1)
		if g.OnPost != nil {
			g.OnPost(id)
		}
	}
	// A killed invocation's DELETE, like its POST, never reaches API
	// Gateway: consulted before either is answered.
	g.mu.Lock()
	drop := g.drop
	g.mu.Unlock()
	if drop != nil && drop(id) {
		panic(http.ErrAbortHandler) // neither delivered nor answered
	}
	if r.Method == http.MethodDelete {
		g.close(w, id)
		return
	}
	if g.Latency > 0 {
		time.Sleep(g.Latency)
	}
	if len(body) > contract.MessageLimit {
		g.mu.Lock()
		g.tooLarge++
		g.mu.Unlock()
		w.Header().Set("X-Amzn-Errortype", contract.PayloadTooLarge)
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = w.Write([]byte(`{"message":"Message too long."}`))
		return
	}
	g.mu.Lock()
	box, live := g.inbox[id]
	failing := g.failing[id]
	if live && !failing && !g.Discard {
		g.inbox[id] = append(box, json.RawMessage(body))
	}
	g.mu.Unlock()
	switch {
	case !live:
		w.Header().Set("X-Amzn-Errortype", "GoneException")
		w.WriteHeader(http.StatusGone)
		_, _ = w.Write([]byte(`{"message":"Gone"}`))
	case failing:
		w.Header().Set("X-Amzn-Errortype", "InternalServerErrorException")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"message":"Internal server error"}`))
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (g *Gateway) setDrop(fn func(id string) bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.drop = fn
}

// Open makes a connection live.
func (g *Gateway) Open(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.inbox[id]; !ok {
		g.inbox[id] = []json.RawMessage{}
	}
}

// Vanish makes a connection gone without telling the handler, like a client
// that lost its network: posts to it answer 410 from now on.
func (g *Gateway) Vanish(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.inbox, id)
}

// Fail makes posts to a connection answer 500.
func (g *Gateway) Fail(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failing[id] = true
}

// LoseClose makes the next close of a connection fail, as a throttled or
// failed close does: its DELETE @connections and the SDK's retries of it
// (three attempts in all) answer 500 and close nothing, and the connection
// stays open. Later closes close it.
func (g *Gateway) LoseClose(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lose[id] = closeAttempts
}

// closeAttempts are a close's attempts: the SDK's default.
const closeAttempts = 3

// Take returns and clears the frames posted to a connection (one closed
// by DELETE: those posted before its close).
func (g *Gateway) Take(id string) []json.RawMessage {
	g.mu.Lock()
	defer g.mu.Unlock()
	box := append(g.delivered[id], g.inbox[id]...)
	delete(g.delivered, id)
	if _, ok := g.inbox[id]; ok {
		g.inbox[id] = []json.RawMessage{}
	}
	return box
}

// Posts counts every POST received.
func (g *Gateway) Posts() int64 { return g.posts.Load() }

// TooLarge counts the POSTs refused with 413 as over the message limit.
func (g *Gateway) TooLarge() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tooLarge
}
