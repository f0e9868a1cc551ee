package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/ddbproxy"
	"github.com/groupchat/groupchat/local/gateway"
)

// TestARoomsCountStaysExactWhenDynamoDBAnswersAppliedWritesWithErrors:
// clients join, leave and vanish while DynamoDB answers 30% of the writes
// to the room's count and to the connection records with a 500 after
// applying them (the SDK retries each). The room's count is still the
// number of connection records, and a newcomer's state says that count.
func TestARoomsCountStaysExactWhenDynamoDBAnswersAppliedWritesWithErrors(t *testing.T) {
	t.Parallel()
	const room, joins, leaves, vanishes = "counted", 24, 8, 6
	ctx := testkit.Context(t, 2*time.Minute)
	roomItem, _ := json.Marshal(contract.RoomItemPrefix + room)
	connItem := []byte(`"` + contract.ConnItemPrefix)
	applyFail := ddbproxy.Fraction(0.3)
	s := startStack(t, local.Options{
		DynamoDB: ddbproxy.AWSLike(),
		// The vanished clients are removed by the first broadcast that
		// finds them, however young.
		Chat: chat.Options{StaleGrace: time.Millisecond},
	})

	s.DynamoDBProxy.Inject(ddbproxy.Faults{ApplyThenFail: func(w ddbproxy.Write) bool {
		touches := bytes.Contains(w.Body, roomItem) || bytes.Contains(w.Body, connItem)
		return touches && applyFail(w)
	}})

	// One at a time: a join's broadcast must not find a client whose
	// $connect is still running (with a 1 ms grace it would be removed).
	clients := make([]*websocket.Conn, joins)
	for i := range clients {
		clients[i] = join(ctx, t, s, room, fmt.Sprintf("member-%d", i))
	}

	// Some leave with a close (their $disconnect removes them)...
	for _, c := range clients[:leaves] {
		_ = c.Close(websocket.StatusNormalClosure, "bye")
	}
	live := clients[leaves:]
	// The invocations the test causes, by route: the table is read only
	// once each has ended and none runs.
	caused := map[string]int{"$disconnect": leaves}
	waitForRecords(ctx, t, s, live[0], joins-leaves, caused)
	// ...some vanish: no $disconnect; a broadcast's 410 removes them.
	s.Gateway.SetFaults(gateway.Faults{DropDisconnect: func(string) bool { return true }})
	for _, c := range live[:vanishes] {
		_ = c.CloseNow()
	}
	live = live[vanishes:]
	waitForRecords(ctx, t, s, live[0], len(live), caused)

	// At rest: with a 1 ms grace, a broadcast still running (a
	// $disconnect slowed by the retries) would find the newcomer in its
	// $connect and remove it.
	s.DynamoDBProxy.Restore()
	conns, _, rooms := connectionsTable(ctx, t, s)
	counted := -1
	for _, r := range rooms {
		if r.PK == contract.RoomItemPrefix+room {
			counted = r.Count
		}
	}
	if counted != len(conns) {
		t.Errorf("the room counts %d members; the table holds %d connection records (%d live clients)", counted, len(conns), len(live))
	}
	newcomer := join(ctx, t, s, room, "newcomer")
	if err := newcomer.Write(ctx, websocket.MessageText, []byte(`{"action":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, data, err := newcomer.Read(ctx)
		if err != nil {
			t.Fatalf("the newcomer waits for its state: %v", err)
		}
		var f struct {
			Type  string
			Count int
		}
		if json.Unmarshal(data, &f) == nil && f.Type == "state" {
			if f.Count != len(live)+1 {
				t.Errorf("the newcomer's state says %d members; %d are connected", f.Count, len(live)+1)
			}
			break
		}
	}
}

// join connects a client to a room, again when its $connect fails (a
// write the SDK gave up on).
func join(ctx context.Context, t *testing.T, s *localtest.Stack, room, name string) *websocket.Conn {
	t.Helper()
	u := s.URL + "?" + url.Values{"name": {name}, "room": {room}}.Encode()
	for attempt := 0; ; attempt++ {
		ws, _, err := websocket.Dial(ctx, u, nil)
		if err == nil {
			t.Cleanup(func() { _ = ws.CloseNow() })
			return ws
		}
		if attempt == 10 {
			t.Fatalf("%s connects: %v", name, err)
		}
	}
}

// waitForRecords waits until the stack is at rest (waitIdle) with want
// connection records in the Connections table; while it holds more, a live
// client sends a message, one at a time, whose broadcast finds vanished
// clients and finishes removals that failed half-way. caused counts the
// invocations the test caused, by route; the messages are added to it.
func waitForRecords(ctx context.Context, t *testing.T, s *localtest.Stack, sender *websocket.Conn, want int, caused map[string]int) {
	t.Helper()
	for {
		waitIdle(ctx, t, s, caused)
		got, claims, rooms := connectionsTableLen(ctx, t, s)
		switch {
		case got == want:
			return
		case got < want:
			t.Fatalf("the Connections table holds %d connection records; want %d (%d claims, %d rooms): a live client's record went", got, want, claims, rooms)
		case ctx.Err() != nil:
			t.Fatalf("the Connections table holds %d connection records; want %d (%d claims, %d rooms)", got, want, claims, rooms)
		}
		if err := sender.Write(ctx, websocket.MessageText, []byte(`{"action":"sendPublic","message":"anyone?"}`)); err != nil {
			t.Fatalf("send a message to find the vanished clients: %v", err)
		}
		caused["sendPublic"]++
	}
}

func connectionsTableLen(ctx context.Context, t *testing.T, s *localtest.Stack) (conns, claims, rooms int) {
	c, n, r := connectionsTable(ctx, t, s)
	return len(c), len(n), len(r)
}
