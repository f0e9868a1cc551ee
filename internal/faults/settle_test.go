package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/gateway"
)

// counter is one client's view of its room's count: that of the frame
// with the greatest cv it received (docs/protocol.md, cv).
type counter struct {
	ws *websocket.Conn

	mu        sync.Mutex
	count     int
	cv        int64
	onChanged func()
}

func (c *counter) read(ctx context.Context) {
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return
		}
		var f struct {
			Count *int  `json:"count"`
			CV    int64 `json:"cv"`
		}
		if json.Unmarshal(data, &f) != nil || f.Count == nil || f.CV == 0 {
			continue
		}
		c.mu.Lock()
		if f.CV > c.cv {
			c.count, c.cv = *f.Count, f.CV
		}
		c.mu.Unlock()
		c.onChanged()
	}
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// TestABigRoomsClientsEndWithTheServersCountAfterUnannouncedChanges: 300
// clients in one room (far past the 20 told of each change, so the room's
// credit pays a presence frame only now and then); 20 leave, 30 vanish
// without a $disconnect and one message finds them. No frame need announce
// the last change; the room's settle tells everyone left its count: every
// client's count equals the server's within the bound (docs/design.md, The
// page converges), waited for on the frames, with a deadline.
func TestABigRoomsClientsEndWithTheServersCountAfterUnannouncedChanges(t *testing.T) {
	t.Parallel()
	const clients, leave, vanish = 300, 20, 30
	ctx := testkit.Context(t, 10*time.Minute)
	var drop sync.Map
	s := startStack(t, local.Options{
		Gateway: gateway.Config{Faults: gateway.Faults{DropDisconnect: func(id string) bool { _, ok := drop.Load(id); return ok }}},
		Chat:    chat.Options{StaleGrace: time.Millisecond},
	})
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	cs := make([]*counter, clients)
	// One at a time: a broadcast must not find a client whose $connect is
	// still running (with a 1 ms grace it would be removed as gone).
	sem := make(chan struct{}, 1)
	began := time.Now()
	var wg sync.WaitGroup
	for i := range cs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			q := url.Values{"name": {fmt.Sprintf("member-%03d", i)}, "room": {"big"}}
			ws, _, err := websocket.Dial(ctx, s.URL+"?"+q.Encode(), nil)
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			cs[i] = &counter{ws: ws, onChanged: notify}
			go cs[i].read(ctx)
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d clients connected in %s", clients, time.Since(began).Round(time.Millisecond))
	byName, err := s.ConnectionsByName(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := leave; i < leave+vanish; i++ {
		drop.Store(byName[fmt.Sprintf("member-%03d", i)], true)
	}
	for _, c := range cs[:leave+vanish] {
		_ = c.ws.Close(websocket.StatusNormalClosure, "")
	}
	// The leaves' $disconnects (each counted, seldom announced), then a
	// message whose broadcast finds the vanished (410) and removes them,
	// unless an earlier broadcast (a presence frame the credit paid) did.
	live := cs[leave+vanish:]
	store := dynamo.New(s.DB, s.Tables, nil)
	start := time.Now()
	if err := live[0].ws.Write(ctx, websocket.MessageText, []byte(`{"action":"sendPublic","message":"who is here?"}`)); err != nil {
		t.Fatal(err)
	}
	want := clients - leave - vanish
	// The bound: twice the settle delay and the room's broadcast, on a
	// loaded machine (docs/design.md, The page converges: Bound).
	deadline := time.NewTimer(2*chat.DefaultSettleDelay + 25*time.Second)
	defer deadline.Stop()
	for {
		off := 0
		for _, c := range live {
			if c.get() != want {
				off++
			}
		}
		n, err := store.RoomCount(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		if off == 0 && n == want {
			break
		}
		select {
		case <-deadline.C:
			t.Fatalf("%s after the message, %d of %d clients' counts differ from %d (the server counts %d)",
				time.Since(start).Round(time.Millisecond), off, len(live), want, n)
		case <-changed:
		}
	}
	t.Logf("figures: %d clients, %d left, %d vanished; every remaining client counted %d %s after the message that found the vanished",
		clients, leave, vanish, want, time.Since(start).Round(time.Millisecond))
	for _, c := range live {
		_ = c.ws.Close(websocket.StatusNormalClosure, "")
	}
}
