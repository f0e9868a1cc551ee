package smoke

// The smoke test's WebSocket clients: each keeps every frame it receives, so
// a check can wait for the frames it expects and then count every copy,
// including ones that arrive where they should not.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/load"
)

// frame is a server frame as the smoke test reads it: the load tool's
// fields and the recipients and member lists.
type frame struct {
	load.Frame
	From    string          `json:"from"`
	To      []string        `json:"to"`
	You     string          `json:"you"`
	Members json.RawMessage `json:"members"`
}

// client is one connection.
type client struct {
	name string
	ws   *websocket.Conn

	mu      sync.Mutex
	frames  []frame
	readErr error
	changed chan struct{} // closed and replaced on every frame
}

// dial connects name to room with token ("": none). A refused handshake's
// error carries its HTTP status.
func dial(ctx context.Context, wsURL, room, name, token string) (*client, error) {
	q := url.Values{"name": {name}, "room": {room}}
	if token != "" {
		q.Set(contract.AuthQueryParam, token)
	}
	ws, resp, err := websocket.Dial(ctx, wsURL+"?"+q.Encode(), nil)
	if err != nil {
		// A network error names the URL, token and all: the output goes to
		// pipeline logs, and the token admits anyone for an hour.
		var ue *url.Error
		if errors.As(err, &ue) && token != "" {
			ue.URL = strings.ReplaceAll(ue.URL, url.QueryEscape(token), "REDACTED")
		}
		return nil, &dialError{status: statusOf(resp), err: err, token: token}
	}
	ws.SetReadLimit(1 << 20)
	c := &client{name: name, ws: ws, changed: make(chan struct{})}
	go c.read()
	return c, nil
}

type dialError struct {
	status int
	err    error
	token  string // never printed
}

func (e *dialError) Error() string {
	msg := e.err.Error()
	if e.token != "" {
		msg = strings.ReplaceAll(msg, e.token, "REDACTED")
	}
	if e.status != 0 {
		return fmt.Sprintf("handshake refused with HTTP %d: %s", e.status, msg)
	}
	return msg
}

func (e *dialError) Unwrap() error { return e.err }

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

func (c *client) read() {
	for {
		_, data, err := c.ws.Read(context.Background())
		c.mu.Lock()
		if err != nil {
			c.readErr = err
		} else {
			var f frame
			if json.Unmarshal(data, &f) != nil {
				f.Type = "(not JSON: " + string(data) + ")"
			}
			c.frames = append(c.frames, f)
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (c *client) close() { _ = c.ws.Close(websocket.StatusNormalClosure, "smoke test done") }

func (c *client) send(ctx context.Context, v any) error {
	data, _ := json.Marshal(v)
	if err := c.ws.Write(ctx, websocket.MessageText, data); err != nil {
		return fmt.Errorf("%s sends %s: %w", c.name, data, err)
	}
	return nil
}

// count is how many frames so far match.
func (c *client) count(match func(frame) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, f := range c.frames {
		if match(f) {
			n++
		}
	}
	return n
}

// waitFor waits until a frame matches and returns the last that does.
func (c *client) waitFor(ctx context.Context, what string, match func(frame) bool) (frame, error) {
	for {
		c.mu.Lock()
		for i := len(c.frames) - 1; i >= 0; i-- {
			if match(c.frames[i]) {
				f := c.frames[i]
				c.mu.Unlock()
				return f, nil
			}
		}
		changed, readErr := c.changed, c.readErr
		c.mu.Unlock()
		if readErr != nil {
			return frame{}, fmt.Errorf("%s: the connection ended before %s: %w", c.name, what, readErr)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return frame{}, fmt.Errorf("%s: no %s: %w", c.name, what, ctx.Err())
		}
	}
}

// quiet waits until no frame has arrived at any of cs for d.
func quiet(ctx context.Context, d time.Duration, cs ...*client) {
	last := func() int {
		n := 0
		for _, c := range cs {
			c.mu.Lock()
			n += len(c.frames)
			c.mu.Unlock()
		}
		return n
	}
	seen := last()
	for ctx.Err() == nil {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		n := last()
		if n == seen {
			return
		}
		seen = n
	}
}

// hello asks for the state and waits for it.
func (c *client) hello(ctx context.Context) (frame, error) {
	if err := c.send(ctx, map[string]string{"action": contract.ActionHello}); err != nil {
		return frame{}, err
	}
	return c.waitFor(ctx, "state", func(f frame) bool { return f.Type == contract.FrameState })
}

// waitForMembers asks for the member list (the room index every broadcast
// reads, which lags behind a join) until it lists every name: only then does
// a message reach them all. It asks at most every interval.
func (c *client) waitForMembers(ctx context.Context, names []string, interval time.Duration) error {
	for i := 0; ; i++ {
		ref := fmt.Sprintf("members-%d", i)
		if err := c.send(ctx, map[string]string{"action": contract.ActionMembers, "ref": ref}); err != nil {
			return err
		}
		page, err := c.waitFor(ctx, "memberPage", func(f frame) bool { return f.Type == contract.FrameMemberPage && f.Ref == ref })
		if err != nil {
			return err
		}
		var members []struct{ Name string }
		_ = json.Unmarshal(page.Members, &members)
		listed := 0
		for _, n := range names {
			if slices.ContainsFunc(members, func(m struct{ Name string }) bool { return m.Name == n }) {
				listed++
			}
		}
		if listed == len(names) {
			return nil
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("the room's member list never listed all of %v: %w", names, ctx.Err())
		}
	}
}

// refused reports how a handshake without a token ended: nil when it was
// refused (401 or 403), an error when it was admitted or failed otherwise.
func refused(ctx context.Context, wsURL, room string) error {
	c, err := dial(ctx, wsURL, room, "smoke-no-token", "")
	if err == nil {
		c.close()
		return errors.New("a client without a token was admitted: the stage lets anyone in")
	}
	var de *dialError
	if errors.As(err, &de) && (de.status == http.StatusUnauthorized || de.status == http.StatusForbidden) {
		return nil
	}
	return fmt.Errorf("a client without a token: want HTTP 401, got: %w", err)
}
