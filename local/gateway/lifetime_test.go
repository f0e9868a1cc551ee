// A connection's limits and its end: frame and message limits, the maximum
// duration, a vanished client, the admin's close and shutdown.

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/internal/testkit"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, echo, Config{})

	// Frames of up to 32 KB make up messages of up to 128 KB.
	c, _ := s.dial(ctx, t, "")
	big := strings.Repeat("a", 120<<10)
	writeFrames(ctx, t, c, big, 16<<10)
	if got := read(ctx, t, c); got != "$default:"+big {
		t.Fatalf("a 120 KB message in 16 KB frames: got %d bytes back", len(got))
	}

	cases := []struct {
		name       string
		size, step int
	}{
		{"a frame over 32 KB", 33 << 10, 33 << 10},
		{"a message over 128 KB", 130 << 10, 16 << 10},
	}
	for _, tc := range cases {
		c, id := s.dial(ctx, t, "")
		// The write may fail once the gateway has closed; the close frame counts.
		w, err := c.Writer(ctx, websocket.MessageText)
		if err != nil {
			t.Fatal(err)
		}
		for sent := 0; sent < tc.size; sent += tc.step {
			if _, err := w.Write([]byte(strings.Repeat("b", min(tc.step, tc.size-sent)))); err != nil {
				break
			}
		}
		_ = w.Close()
		if ce := closeStatusOf(ctx, t, c); ce.Code != websocket.StatusMessageTooBig {
			t.Errorf("%s: closed with %v, want 1009", tc.name, ce)
		}
		if d := s.events.disconnectOf(ctx, t, id); d.RequestContext.DisconnectStatusCode != 1009 {
			t.Errorf("%s: $disconnect status %d, want 1009", tc.name, d.RequestContext.DisconnectStatusCode)
		}
	}
}

func TestBinaryFrameClosesWith1003AndInvokesNothing(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, echo, Config{})
	c, id := s.dial(ctx, t, "")
	if err := c.Write(ctx, websocket.MessageBinary, []byte(`{"action":"sendPublic","message":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	if ce := closeStatusOf(ctx, t, c); ce.Code != websocket.StatusUnsupportedData {
		t.Errorf("closed with %v, want 1003 like API Gateway", ce)
	}
	if d := s.events.disconnectOf(ctx, t, id); d.RequestContext.DisconnectStatusCode != 1003 {
		t.Errorf("$disconnect status %d, want 1003", d.RequestContext.DisconnectStatusCode)
	}
	for _, ev := range s.events.all() {
		if ev.RequestContext.ConnectionID == id && ev.RequestContext.EventType == "MESSAGE" {
			t.Errorf("the binary frame was handed to route %s", ev.RequestContext.RouteKey)
		}
	}
}

// writeFrames sends msg as one message split into frames of step bytes.
func writeFrames(ctx context.Context, t *testing.T, c *websocket.Conn, msg string, step int) {
	t.Helper()
	w, err := c.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(msg); i += step {
		if _, err := w.Write([]byte(msg[i:min(i+step, len(msg))])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMaxConnectionDurationClosesBusyConnections(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	const maxAge = 300 * time.Millisecond
	s := start(t, echo, Config{MaxConnectionDuration: maxAge})
	opened := time.Now() // before the gateway's own clock starts
	c, id := s.dial(ctx, t, "")
	var ce websocket.CloseError
	for {
		if err := c.Write(ctx, websocket.MessageText, []byte("busy")); err != nil {
			ce = closeStatusOf(ctx, t, c)
			break
		}
		if _, _, err := c.Read(ctx); err != nil {
			if !errors.As(err, &ce) {
				t.Fatalf("connection ended without a close frame: %v", err)
			}
			break
		}
	}
	if ce.Code != websocket.StatusGoingAway || time.Since(opened) < maxAge {
		t.Errorf("closed with %v after %s, want 1001 after %s", ce, time.Since(opened), maxAge)
	}
	if d := s.events.disconnectOf(ctx, t, id); d.RequestContext.DisconnectStatusCode != 1001 {
		t.Errorf("$disconnect status %d, want 1001", d.RequestContext.DisconnectStatusCode)
	}
}

func TestVanishedClientGetsDisconnect(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	var dropped sync.Map
	s := start(t, echo, Config{Faults: Faults{DropDisconnect: func(id string) bool { _, ok := dropped.Load(id); return ok }}})

	c, id := s.dial(ctx, t, "")
	_ = c.CloseNow() // no close frame: the TCP connection just ends
	d := s.events.disconnectOf(ctx, t, id)
	if d.RequestContext.DisconnectStatusCode != 1006 {
		t.Errorf("$disconnect status %d, want 1006", d.RequestContext.DisconnectStatusCode)
	}

	// With the DropDisconnect fault the connection ends silently: it is
	// gone from the list, and no $disconnect ever comes.
	c, id = s.dial(ctx, t, "")
	dropped.Store(id, true)
	_ = c.CloseNow()
	for slices.Contains(adminList(ctx, t, s), id) {
		time.Sleep(5 * time.Millisecond) // polling the list; nothing else signals the end
	}
	other, otherID := s.dial(ctx, t, "")
	_ = other.Close(websocket.StatusNormalClosure, "")
	s.events.disconnectOf(ctx, t, otherID) // events after the drop have run
	for _, ev := range s.events.all() {
		if ev.RequestContext.RouteKey == "$disconnect" && ev.RequestContext.ConnectionID == id {
			t.Errorf("$disconnect delivered for %s despite DropDisconnect", id)
		}
	}
}

func TestAdminClosesEveryConnection(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, echo, Config{})
	var clients []*websocket.Conn
	for range 3 {
		c, _ := s.dial(ctx, t, "")
		clients = append(clients, c)
	}
	if got := adminList(ctx, t, s); len(got) != 3 {
		t.Fatalf("GET /_local/connections lists %v, want 3 ids", got)
	}
	closed := awaitClose(ctx, t, clients...)
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, s.base+"/_local/connections", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// DELETE answers after every $disconnect ran.
	var disconnects int
	for _, ev := range s.events.all() {
		if ev.RequestContext.RouteKey == "$disconnect" {
			disconnects++
			if ev.RequestContext.DisconnectStatusCode != 1001 {
				t.Errorf("$disconnect status %d, want 1001", ev.RequestContext.DisconnectStatusCode)
			}
		}
	}
	if disconnects != 3 {
		t.Errorf("%d $disconnect events when DELETE answered, want 3", disconnects)
	}
	for i, ce := range closed() {
		if ce.Code != websocket.StatusGoingAway || ce.Reason != "Going Away" {
			t.Errorf("client %d closed with %v, want 1001 Going Away", i, ce)
		}
	}
	if got := adminList(ctx, t, s); len(got) != 0 {
		t.Errorf("after DELETE the list is %v", got)
	}
}

func adminList(ctx context.Context, t *testing.T, s *stack) []string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/_local/connections", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Connections []string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Connections
}

func TestShutdownDisconnectsEveryone(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	s := start(t, echo, Config{})
	a, idA := s.dial(ctx, t, "")
	b, idB := s.dial(ctx, t, "")
	closed := awaitClose(ctx, t, a, b)
	if err := s.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Shutdown returns after $disconnect ran for both.
	got := map[string]int64{}
	for _, ev := range s.events.all() {
		if ev.RequestContext.RouteKey == "$disconnect" {
			got[ev.RequestContext.ConnectionID] = ev.RequestContext.DisconnectStatusCode
		}
	}
	if got[idA] != 1001 || got[idB] != 1001 || len(got) != 2 {
		t.Errorf("$disconnect after shutdown: %v, want 1001 for both", got)
	}
	for _, ce := range closed() {
		if ce.Code != websocket.StatusGoingAway {
			t.Errorf("client closed with %v, want 1001", ce)
		}
	}
	_, resp, err := websocket.Dial(ctx, s.wsURL, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a new connection during shutdown: %v %v, want 503", err, resp)
	}
}
