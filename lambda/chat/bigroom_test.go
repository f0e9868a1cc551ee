package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// longName is the i-th of a set of distinct names of exactly 32 characters
// and 64 bytes (the longest a name can be): 2-byte letters only.
func longName(i int) string {
	const letters = "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿā" // 32 two-byte letters
	r := []rune(letters)
	var b strings.Builder
	b.WriteString(strings.Repeat("é", 28))
	for range 4 {
		b.WriteRune(r[i%32])
		i /= 32
	}
	return b.String()
}

// TestABigRoomAnswersHelloInsideTheLimitAndPagesItsWholeList: 3,000 members
// with 64-byte names (seeded in dynalite through the store, as their joins
// would have left them; connecting 3,000 sockets would take minutes); one
// more joins through the local stack's WebSocket. Its state frame stays
// inside API Gateway's 128 KB and counts everyone, and the members action
// reads the whole list page by page, everyone exactly once.
func TestABigRoomAnswersHelloInsideTheLimitAndPagesItsWholeList(t *testing.T) {
	t.Parallel()
	const n = 3000
	s := localtest.Start(t, local.Options{})
	ctx := testkit.Context(t, 2*time.Minute)
	seed(ctx, t, dynamo.New(throughProxy(s), s.Tables, nil), "big", n)

	ws, _, err := websocket.Dial(ctx, s.URL+"?"+url.Values{"name": {"reader"}, "room": {"big"}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ws.CloseNow() }()
	ws.SetReadLimit(1 << 20)
	ask := func(req string) (map[string]json.RawMessage, int) {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(req)); err != nil {
			t.Fatal(err)
		}
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("%s: %v", req, err)
			}
			var f map[string]json.RawMessage
			if err := json.Unmarshal(data, &f); err != nil {
				t.Fatal(err)
			}
			if typ := string(f["type"]); typ != `"presence"` && typ != `"joined"` {
				return f, len(data)
			}
		}
	}
	const limit = 128 * 1024

	state, size := ask(`{"action":"hello"}`)
	var listed []string
	var count int
	var cursor string
	_ = json.Unmarshal(state["members"], &listed)
	_ = json.Unmarshal(state["count"], &count)
	_ = json.Unmarshal(state["membersCursor"], &cursor)
	if string(state["type"]) != `"state"` || size >= limit {
		t.Fatalf("hello answered a %s frame of %d bytes, want a state under %d", state["type"], size, limit)
	}
	if count != n+1 || len(listed) > chat.StateMembersMax || cursor == "" {
		t.Fatalf("state: count %d, %d names, cursor %q; want count %d, at most %d names and a cursor",
			count, len(listed), cursor, n+1, chat.StateMembersMax)
	}

	seen := map[string]int{}
	pages := 0
	for cursor, first := "", true; first || cursor != ""; first = false {
		req := `{"action":"members","ref":"p"}`
		if cursor != "" {
			req = fmt.Sprintf(`{"action":"members","cursor":%q,"ref":"p"}`, cursor)
		}
		page, size := ask(req)
		pages++
		var members []struct {
			Name string `json:"name"`
		}
		cursor = ""
		_ = json.Unmarshal(page["members"], &members)
		_ = json.Unmarshal(page["cursor"], &cursor)
		_ = json.Unmarshal(page["count"], &count)
		if string(page["type"]) != `"memberPage"` || size >= limit || len(members) > chat.MembersPageMax || count != n+1 {
			t.Fatalf("page %d: a %s frame of %d bytes with %d members, count %d", pages, page["type"], size, len(members), count)
		}
		for _, m := range members {
			seen[m.Name]++
		}
	}
	for i := range n {
		if seen[longName(i)] != 1 {
			t.Fatalf("member %d was listed %d times in %d pages", i, seen[longName(i)], pages)
		}
	}
	if len(seen) != n+1 || seen["reader"] != 1 {
		t.Fatalf("the pages list %d names (reader %d times), want %d", len(seen), seen["reader"], n+1)
	}
	t.Logf("%d members read in %d pages; state %d bytes", len(seen), pages, size)

	bad, _ := ask(`{"action":"members","cursor":"not a cursor!","ref":"b"}`)
	if string(bad["type"]) != `"error"` || string(bad["code"]) != `"bad_field"` {
		t.Fatalf("a made-up cursor was answered with %v, want a bad_field error", bad)
	}
}

// throughProxy is a DynamoDB client through the stack's proxy, which runs
// the store's transactions (dynalite has none).
func throughProxy(s *localtest.Stack) *dynamodb.Client {
	return dynamodb.NewFromConfig(local.AWSConfig(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(s.DynamoDBProxy.Endpoint())
	})
}

// seed puts n members in room through the store: their records, their
// names and their count, as their joins would have.
func seed(ctx context.Context, t *testing.T, st *dynamo.Store, room string, n int) {
	t.Helper()
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := chat.Connection{ID: fmt.Sprintf("seed%06d=", i), Room: room, Name: longName(i), ConnectedAt: now,
				ExpiresAt: now.Add(2 * time.Hour), ResumeToken: "t"}
			if _, err := st.ClaimName(ctx, chat.Claim{Room: room, Name: c.Name, ConnID: c.ID, ExpiresAt: c.ExpiresAt}); err != nil {
				errs <- err
				return
			}
			if err := st.PutConnection(ctx, c); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err) // counted by their records' puts
	}
}

// TestJoinsAndLeavesThatConflictAreCountedOnce: every join and leave of a
// room writes the room's item in a transaction, so on AWS two at once
// conflict: DynamoDB cancels one without applying it, and the SDK does not
// retry it. Every other transaction here is cancelled so; each is made
// again, and the room's count is still its members.
func TestJoinsAndLeavesThatConflictAreCountedOnce(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	var n atomic.Int64
	// Asked once per action: the first action's answer decides for the
	// transaction.
	h.DynamoDB.Inject(ddbproxy.Faults{Conflict: func(w ddbproxy.Write) bool { return w.Action == 0 && n.Add(1)%2 == 1 }})
	ids := make([]string, 8)
	for i := range ids {
		ids[i] = h.Join(fmt.Sprintf("member-%d", i), "busy")
	}
	for _, id := range ids[:3] {
		h.Disconnect(id)
	}
	h.DynamoDB.Restore()
	if n.Load() < 2*(8+3) {
		t.Fatalf("%d transactions tried; want each of the 11 joins and leaves tried twice", n.Load())
	}
	if s := state(t, h, ids[3]); s.Count != 5 {
		t.Errorf("the state says %d members; 5 are connected", s.Count)
	}
	if got, err := h.Store.RoomCount(context.Background(), "busy"); err != nil || got != 5 {
		t.Errorf("the room's count is %d (%v); 5 are connected", got, err)
	}
}
