package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
)

// TestFillingARoomCostsAtMostThreeDeliveriesPerMember: 300 people join one
// room through the local stack; every frame any of them receives while the
// room fills (its presence) is counted, and a newcomer is told the exact
// count. Announcing every join to everyone costs N²/2 (45,000 here).
func TestFillingARoomCostsAtMostThreeDeliveriesPerMember(t *testing.T) {
	t.Parallel()
	const n = 300
	s := localtest.Start(t, local.Options{})
	ctx := testkit.Context(t, 3*time.Minute)
	var late string
	res, err := Run(ctx, Config{URL: s.URL, Clients: n, RoomSize: n, Broadcasts: 1, RoomPrefix: "fill", ConnectConcurrency: 16,
		BeforeClose: func() { late = lateState(ctx, s.URL, "fill-0") }})
	if err != nil {
		t.Fatal(err)
	}
	// On a loaded machine a few handshakes can fail (a DynamoDB request
	// past its 3 s limit answers 500, and nothing is recorded or counted):
	// the room is the members that got in.
	got := res.Connect.Connected
	if got < n*9/10 {
		t.Fatalf("%d of %d connected: %s", got, n, res.Connect.FirstError)
	}
	t.Logf("fill: %d members, %d frames in %.1fs %v", got, res.Fill.Frames, res.Fill.Seconds, res.Fill.ByType)
	if res.Fill.Frames > 3*got {
		t.Errorf("filling a room of %d delivered %d frames, want at most %d", got, res.Fill.Frames, 3*got)
	}
	if !res.Complete {
		t.Errorf("the broadcast after the fill did not reach everyone: %+v", res.Deliveries)
	}
	if want := fmt.Sprint(got + 1); late != want {
		t.Errorf("a newcomer's state counts %s members, want %s", late, want)
	}
}

// lateState joins room as one more client and returns the count its state
// frame gives (or what went wrong).
func lateState(ctx context.Context, wsURL, room string) string {
	ws, _, err := websocket.Dial(ctx, wsURL+"?"+url.Values{"name": {"late"}, "room": {room}}.Encode(), nil)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = ws.CloseNow() }()
	ws.SetReadLimit(1 << 20)
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"action":"hello"}`)); err != nil {
		return err.Error()
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return err.Error()
		}
		var f struct {
			Type  string `json:"type"`
			Count *int   `json:"count"`
		}
		if json.Unmarshal(data, &f) == nil && f.Type == "state" {
			if f.Count == nil {
				return "no count: " + string(data)
			}
			return fmt.Sprint(*f.Count)
		}
	}
}
