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
		DynamoDB: ddbproxy.Faults{ApplyThenFail: func(w ddbproxy.Write) bool {
			touches := bytes.Contains(w.Body, roomItem) || bytes.Contains(w.Body, connItem)
			return touches && applyFail(w)
		}},
		// The vanished clients are removed by the first broadcast that
		// finds them, however young.
		Chat: chat.Options{StaleGrace: time.Millisecond},
	})

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
	waitForRecords(ctx, t, s, live[0], joins-leaves)
	// ...some vanish: no $disconnect; a broadcast's 410 removes them.
	s.Gateway.SetFaults(gateway.Faults{DropDisconnect: func(string) bool { return true }})
	for _, c := range live[:vanishes] {
		_ = c.CloseNow()
	}
	live = live[vanishes:]
	time.Sleep(200 * time.Millisecond) // the gateway notices the ends
	waitForRecords(ctx, t, s, live[0], len(live))

	s.DynamoDBProxy.SetFaults(ddbproxy.Faults{})
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
	// The newcomer joins once nothing else runs: with a 1 ms grace, a
	// broadcast still running (a $disconnect slowed by the retries) would
	// find it in its $connect and remove it.
	waitQuiet(ctx, t, s, leaves)
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

// waitForRecords has a live client send a message (whose broadcast finds
// vanished clients, and finishes removals that failed half-way) until the
// Connections table holds want connection records.
func waitForRecords(ctx context.Context, t *testing.T, s *localtest.Stack, sender *websocket.Conn, want int) {
	t.Helper()
	got := -1
	for range 40 {
		if got, _, _ = connectionsTableLen(ctx, t, s); got == want {
			return
		}
		_ = sender.Write(ctx, websocket.MessageText, []byte(`{"action":"sendPublic","message":"anyone?"}`))
		time.Sleep(250 * time.Millisecond)
	}
	c, n, r := connectionsTableLen(ctx, t, s)
	t.Fatalf("the Connections table holds %d connection records; want %d (%d %d %d)", got, want, c, n, r)
}

func connectionsTableLen(ctx context.Context, t *testing.T, s *localtest.Stack) (conns, claims, rooms int) {
	c, n, r := connectionsTable(ctx, t, s)
	return len(c), len(n), len(r)
}

// waitQuiet waits until the stack has run the $disconnect of every client
// that closed (closed of them) and then no invocation has ended for a
// second and a half, longer than any of this test's takes.
func waitQuiet(ctx context.Context, t *testing.T, s *localtest.Stack, closed int) {
	t.Helper()
	last, since := -1, time.Now()
	for ctx.Err() == nil {
		invs := s.Invocations()
		disconnects := 0
		for _, inv := range invs {
			if inv.Route == "$disconnect" {
				disconnects++
			}
		}
		if len(invs) != last {
			last, since = len(invs), time.Now()
		} else if disconnects >= closed && time.Since(since) > 1500*time.Millisecond {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the stack did not go quiet: %v", ctx.Err())
}
