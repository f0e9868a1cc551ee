package chat_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

func TestConnectDefaultsToGuestInLobbyAndTellsTheRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice := h.Join("Alice", "")
	h.Settle() // the index lists Alice: a join's broadcast may miss whoever joined an instant before
	guest, resp := h.Connect(nil)
	if resp.StatusCode != 200 {
		t.Fatalf("connect without query: status %d", resp.StatusCode)
	}
	s := state(t, h, guest)
	if s.Room != "lobby" || !strings.HasPrefix(s.You, "guest-") || s.Warning != nil {
		t.Fatalf("state = room %q you %q warning %v; want lobby, a guest name, no warning", s.Room, s.You, s.Warning)
	}
	joined := only(t, inbox(t, h, alice), "joined")
	if joined.Name != s.You || joined.Room != "lobby" {
		t.Fatalf("Alice saw %+v, want %s joined lobby", joined, s.You)
	}
	if fs := inbox(t, h, guest); len(fs) != 0 {
		t.Fatalf("the newcomer received %v; it cannot receive before $connect returns", types(fs))
	}
}

func TestConnectRefusesAnInvalidRoom(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	for _, room := range []string{"no spaces", strings.Repeat("r", 33), "-lead", "ünï"} {
		if _, resp := h.Connect(map[string]string{"room": room}); resp.StatusCode != 400 {
			t.Errorf("room %q: status %d, want 400", room, resp.StatusCode)
		}
	}
	if _, resp := h.Connect(map[string]string{"room": "Team-Blue_2"}); resp.StatusCode != 200 {
		t.Errorf("room Team-Blue_2: status %d, want 200", resp.StatusCode)
	}
}

func TestConnectWithTakenOrInvalidNameJoinsAsGuestWithWarning(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	h.Join("Alice", "")
	for _, tc := range []struct{ name, code string }{
		{"ALICE", "name_taken"},
		{" alice ", "name_taken"},
		{strings.Repeat("x", 33), "name_too_long"},
		{"bad\u0007bell", "name_invalid"},
		{"   ", "name_empty"},
	} {
		id, resp := h.Connect(map[string]string{"name": tc.name})
		if resp.StatusCode != 200 {
			t.Fatalf("connect as %q: status %d, want 200 (joins as a guest)", tc.name, resp.StatusCode)
		}
		s := state(t, h, id)
		if !strings.HasPrefix(s.You, "guest-") || s.Warning == nil || s.Warning.Code != tc.code {
			t.Errorf("connect as %q: you %q warning %+v; want a guest name and warning %s", tc.name, s.You, s.Warning, tc.code)
		} else if !strings.Contains(s.Warning.Message, s.You) {
			t.Errorf("warning %q does not tell the guest name %s", s.Warning.Message, s.You)
		}
	}
}

func TestDisconnectTellsTheRoomOnceAndFreesTheName(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	h.Settle() // the index lists both: a broadcast may miss whoever joined an instant before
	h.GW.Take(alice)
	h.Disconnect(bob)
	h.Disconnect(bob) // API Gateway may deliver $disconnect more than once
	if f := only(t, inbox(t, h, alice), "left"); f.Name != "Bob" {
		t.Fatalf("left = %+v", f)
	}
	h.Settle() // a state's member list may still show someone who just left; the page applies the left
	if s := state(t, h, alice); !slices.Equal(s.Members, []string{"Alice"}) {
		t.Fatalf("members = %v", s.Members)
	}
	if s := state(t, h, h.Join("BOB", "")); s.You != "BOB" {
		t.Fatalf("the name was not freed: you = %q", s.You)
	}
}

func TestResumeTakesTheNameBackBeforeTheOldConnectionIsGone(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	token := state(t, h, alice).Resume
	// Without the token the name is taken…
	if s := state(t, h, h.Join("Alice", "")); s.You == "Alice" {
		t.Fatal("took Alice's name without her resume token")
	}
	// …a wrong token does not help…
	wrong, _ := h.Connect(map[string]string{"name": "Alice", "resume": "guess"})
	if s := state(t, h, wrong); s.You == "Alice" {
		t.Fatal("took Alice's name with a wrong token")
	}
	// …and with it, the reconnecting client gets its name back at once.
	again, _ := h.Connect(map[string]string{"name": "Alice", "resume": token})
	if s := state(t, h, again); s.You != "Alice" {
		t.Fatalf("reconnect with the resume token: you = %q (%+v)", s.You, s.Warning)
	}
	h.Settle() // a state's member list may miss a newcomer or list who just left: the old and new Alice both settled
	members := state(t, h, bob).Members
	if n := slices.Index(members, "Alice"); n < 0 || slices.Contains(members[n+1:], "Alice") {
		t.Fatalf("members = %v; want Alice exactly once", members)
	}
	h.GW.Take(bob)
	h.Disconnect(alice) // the old connection's late $disconnect
	if fs := inbox(t, h, bob); len(fs) != 0 {
		t.Fatalf("the replaced connection's $disconnect sent %v", types(fs))
	}
	if s := state(t, h, again); s.You != "Alice" {
		t.Fatalf("after the old $disconnect: you = %q", s.You)
	}
}

func TestDisconnectAfterAResumeTakeoverSaysNothing(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	token := state(t, h, alice).Resume
	// A reconnect has taken the claim, and the old connection's $disconnect
	// runs before the reconnect removed the old record.
	if _, err := h.Store.ClaimName(context.Background(), chat.Claim{Room: "lobby", Name: "Alice", ConnID: chattest.NewConnID(),
		Resume: token, ExpiresAt: h.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h.GW.Take(bob)
	h.Disconnect(alice)
	if fs := inbox(t, h, bob); len(fs) != 0 {
		t.Fatalf("the room was told %v although Alice is back", types(fs))
	}
}

func TestUnknownConnectionIsToldToReconnect(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	ghost := chattest.NewConnID()
	h.GW.Open(ghost)
	if e := sendErr(t, h, ghost, `{"action":"hello"}`); e.Code != "not_connected" {
		t.Fatalf("error = %+v", e)
	}
	if e := sendErr(t, h, ghost, `{"action":"sendPublic","message":"hi"}`); e.Code != "not_connected" {
		t.Fatalf("error = %+v", e)
	}
}

// A reconnect whose record could not be written after its claim took the
// name over: the client never saw a new token, and its retry with the one
// it has must still get its name back.
func TestAResumeThatFailedOnceGetsItsNameOnRetry(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice := h.Join("Alice", "")
	token := state(t, h, alice).Resume
	h.GW.Vanish(alice) // the network dropped; $disconnect has not come yet
	h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: func(w ddbproxy.Write) bool {
		// Every attempt of the new connection's record, until the SDK gives up.
		return w.Op == "TransactWriteItems" && bytes.Contains(w.Body, []byte(`"connectedAt"`))
	}})
	if _, resp := h.Connect(map[string]string{"name": "Alice", "resume": token}); resp.StatusCode != 500 {
		t.Fatalf("the failing reconnect answered %d", resp.StatusCode)
	}
	h.DynamoDB.Restore()
	again, _ := h.Connect(map[string]string{"name": "Alice", "resume": token})
	if s := state(t, h, again); s.You != "Alice" || s.Warning != nil {
		t.Fatalf("the retry got %q (warning %+v), want Alice", s.You, s.Warning)
	}
}

// A reconnect that takes the name over while the old connection's
// $disconnect is between removing its record and releasing the name: the
// person never left, and the room must not be told so.
func TestAResumeDuringTheOldDisconnectIsNoLeave(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	token := state(t, h, alice).Resume
	h.GW.Take(bob)
	var again string
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		// Just before the release of Alice's name claim.
		if again == "" && w.Op == "DeleteItem" && bytes.Contains(w.Body, []byte(`"n#lobby#alice"`)) {
			again = "connecting"
			again, _ = h.Connect(map[string]string{"name": "Alice", "resume": token})
		}
	}})
	h.Disconnect(alice)
	h.DynamoDB.Restore()
	if again == "" {
		t.Fatal("the $disconnect never released Alice's name claim")
	}
	if s := state(t, h, again); s.You != "Alice" {
		t.Fatalf("the reconnect is %q, want Alice", s.You)
	}
	fs := inbox(t, h, bob)
	for _, f := range fs {
		if f.Type == "left" {
			t.Fatalf("Bob was told %q left, yet she is connected (frames %v)", f.Name, types(fs))
		}
	}
	h.Settle() // the index shows the reconnect, made under AWSLike's lag
	if m := state(t, h, bob).Members; !slices.Contains(m, "Alice") {
		t.Fatalf("members = %v; want Alice", m)
	}
}

// touches reports whether a DynamoDB request is about connection id's record.
func touches(w ddbproxy.Write, id string) bool {
	return bytes.Contains(w.Body, []byte(`"c#`+id+`"`))
}

// A removal DynamoDB applied and answered 500: the SDK's retry finds no
// record. The person has still left, and their name is free again.
func TestARemovalAppliedThenRetriedStillFreesTheName(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"disconnect", "stale"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			h := chattest.New(t)
			alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
			h.Settle() // the index lists both (joined under AWSLike's lag): the removal's broadcast reaches Bob and finds Alice
			h.Advance(time.Minute)
			h.GW.Take(bob)
			h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: ddbproxy.Once(func(w ddbproxy.Write) bool {
				return (w.Op == "DeleteItem" || w.Op == "UpdateItem") && touches(w, alice)
			})})
			if how == "disconnect" {
				h.Disconnect(alice)
			} else {
				h.GW.Vanish(alice)
				h.Send(bob, `{"action":"sendPublic","message":"anyone?"}`)
			}
			h.DynamoDB.Restore()
			var told bool
			for _, f := range inbox(t, h, bob) {
				told = told || (f.Type == "left" && f.Name == "Alice") || (f.Type == "members" && slices.Contains(f.Gone, "Alice"))
			}
			if !told {
				t.Error("Bob was never told Alice went")
			}
			if s := state(t, h, h.Join("Alice", "")); s.You != "Alice" {
				t.Errorf("Alice's name is still held: a newcomer got %q", s.You)
			}
		})
	}
}

// A resume's claim DynamoDB applied and answered 500: the retry must still
// learn which connection the name was taken from, so the old record goes and
// the room lists the person once.
func TestAResumeClaimAppliedThenRetriedReplacesTheOldConnection(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	alice, bob := h.Join("Alice", ""), h.Join("Bob", "")
	token := state(t, h, alice).Resume
	h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: ddbproxy.Once(func(w ddbproxy.Write) bool {
		return bytes.Contains(w.Body, []byte(`"n#lobby#alice"`))
	})})
	again, _ := h.Connect(map[string]string{"name": "Alice", "resume": token})
	h.DynamoDB.Restore()
	if s := state(t, h, again); s.You != "Alice" {
		t.Fatalf("the reconnect is %q", s.You)
	}
	h.Settle() // the index shows the reconnect, made under AWSLike's lag
	if m := state(t, h, bob).Members; countOf(m, "Alice") != 1 {
		t.Fatalf("members = %v; want Alice exactly once", m)
	}
	if _, err := h.Store.GetConnection(context.Background(), alice); err != chat.ErrNotFound {
		t.Fatalf("the replaced connection's record is still there (err %v)", err)
	}
}

func countOf(xs []string, x string) (n int) {
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

// A room is an address people share: it must be one spelling, a-z 0-9 _ -
// with only ASCII case folded, and never a different room than the one
// asked for. Letters that only Unicode case mapping turns into ASCII (the
// Kelvin sign, dotted capital I) are refused, not quietly folded.
func TestConnectRefusesRoomsThatOnlyCaseMappingMakesValid(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	for _, room := range []string{"\u212ax", "\u0130", "lobb\u0130", "\u212a", "\u212bngstrom", "\u017fhip"} {
		if _, resp := h.Connect(map[string]string{"room": room}); resp.StatusCode != 400 {
			t.Errorf("room %+q: status %d, want 400", room, resp.StatusCode)
		}
	}
	for room, want := range map[string]string{"KX": "kx", "Team-Blue_2": "team-blue_2", "i": "i"} {
		id, resp := h.Connect(map[string]string{"room": room})
		if resp.StatusCode != 200 {
			t.Errorf("room %q: status %d, want 200", room, resp.StatusCode)
		} else if s := state(t, h, id); s.Room != want {
			t.Errorf("room %q: joined %q, want %q", room, s.Room, want)
		}
	}
}

// activityRecord is one record of a room's activity log, as stored.
type activityRecord struct {
	Kind       chat.Kind `dynamodbav:"kind"`
	From       string    `dynamodbav:"from"`
	ConnID     string    `dynamodbav:"connectionId"`
	ReplacedBy string    `dynamodbav:"replacedBy"`
	Reason     string    `dynamodbav:"reason"`
	// An act's (chat.KindOperator) whom and what.
	To      []string `dynamodbav:"to"`
	Message string   `dynamodbav:"message"`
	// A moderated record's: the act, on whom, until when (ms).
	Act         string   `dynamodbav:"act"`
	FromAccount string   `dynamodbav:"fromAccount"`
	ToAccounts  []string `dynamodbav:"toAccounts"`
	Until       int64    `dynamodbav:"until"`
	TS          int64    `dynamodbav:"ts"`
	// An edited record's: the message, and its text before (Message: after).
	MessageID string `dynamodbav:"messageId"`
	Previous  string `dynamodbav:"previous"`
}

// activityLog reads a room's activity log from the table itself.
func activityLog(t *testing.T, h *chattest.Harness, room string) []activityRecord {
	t.Helper()
	p := dynamodb.NewQueryPaginator(h.DB, &dynamodb.QueryInput{
		TableName:                 aws.String(h.Tables.Messages),
		KeyConditionExpression:    aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": contract.MessagesStream},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":s": &ddbtypes.AttributeValueMemberS{Value: "activity#" + room}},
		ConsistentRead:            aws.Bool(true),
	})
	var all []activityRecord
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var page []activityRecord
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
	}
	return all
}

// balanced checks that the activity log accounts for every connection: each
// that joined has left, gone or been replaced, or is still connected.
func balanced(t *testing.T, h *chattest.Harness, room string) map[chat.Kind]int {
	t.Helper()
	n := map[chat.Kind]int{}
	for _, r := range activityLog(t, h, room) {
		n[r.Kind]++
	}
	live := len(liveConnections(t, h, room))
	if n[chat.KindJoined] != n[chat.KindLeft]+n[chat.KindGone]+n[chat.KindReplaced]+live {
		t.Errorf("the log holds %d joined against %d left + %d gone + %d replaced + %d still connected",
			n[chat.KindJoined], n[chat.KindLeft], n[chat.KindGone], n[chat.KindReplaced], live)
	}
	return n
}

// A resume that takes a name over removes the connection it replaced: the
// log records that (who, which connection, by which, why), once, so every
// joined is matched by a left, a gone or a replaced.
func TestAResumeRecordsTheConnectionItReplaced(t *testing.T) {
	t.Parallel()
	t.Run("after the old connection dropped", func(t *testing.T) {
		t.Parallel()
		h := chattest.New(t)
		alice := h.Join("Alice", "")
		h.Join("Bob", "")
		token := state(t, h, alice).Resume
		want := map[string]string{} // replaced → by
		for range 3 {
			h.GW.Vanish(alice) // the network dropped; $disconnect comes late
			again, _ := h.Connect(map[string]string{"name": "Alice", "resume": token})
			if s := state(t, h, again); s.You != "Alice" {
				t.Fatalf("the resume got %q", s.You)
			}
			want[alice] = again
			h.Disconnect(alice)
			h.Disconnect(alice)
			alice = again
		}
		h.Disconnect(alice)
		n := balanced(t, h, "lobby")
		if n[chat.KindReplaced] != 3 || n[chat.KindLeft] != 1 {
			t.Errorf("the log holds %v; want 3 replaced and Alice's one left", n)
		}
		for _, r := range activityLog(t, h, "lobby") {
			if r.Kind != chat.KindReplaced {
				continue
			}
			if r.From != "Alice" || r.Reason != "resumed" || want[r.ConnID] == "" || r.ReplacedBy != want[r.ConnID] {
				t.Errorf("replaced = %+v; want Alice's connection, the one that replaced it (%s) and reason resumed",
					r, want[r.ConnID])
			}
			delete(want, r.ConnID)
		}
	})
	t.Run("during the old $disconnect", func(t *testing.T) {
		t.Parallel()
		h := chattest.New(t)
		alice := h.Join("Alice", "")
		token := state(t, h, alice).Resume
		var again string
		h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
			// Just before the release of Alice's name claim.
			if again == "" && w.Op == "DeleteItem" && bytes.Contains(w.Body, []byte(`"n#lobby#alice"`)) {
				again = "connecting"
				again, _ = h.Connect(map[string]string{"name": "Alice", "resume": token})
			}
		}})
		h.Disconnect(alice)
		h.DynamoDB.Restore()
		n := balanced(t, h, "lobby")
		if n[chat.KindReplaced] != 1 || n[chat.KindLeft] != 0 {
			t.Fatalf("the log holds %v; want one replaced and no left", n)
		}
		for _, r := range activityLog(t, h, "lobby") {
			if r.Kind == chat.KindReplaced && (r.ConnID != alice || r.ReplacedBy != again || r.Reason != "resumed") {
				t.Errorf("replaced = %+v; want %s replaced by %s, resumed", r, alice, again)
			}
		}
	})
	t.Run("from a connection that expired", func(t *testing.T) {
		t.Parallel()
		h := chattest.New(t)
		alice := h.Join("Alice", "")
		h.GW.Vanish(alice) // and its $disconnect never comes
		h.Advance(3 * time.Hour)
		carol := h.Join("Alice", "")
		if s := state(t, h, carol); s.You != "Alice" {
			t.Fatalf("the expired name was not free: you = %q", s.You)
		}
		n := balanced(t, h, "lobby")
		if n[chat.KindReplaced] != 1 {
			t.Fatalf("the log holds %v; want one replaced", n)
		}
		for _, r := range activityLog(t, h, "lobby") {
			if r.Kind == chat.KindReplaced && (r.ConnID != alice || r.ReplacedBy != carol || r.Reason != "expired") {
				t.Errorf("replaced = %+v; want %s replaced by %s, expired", r, alice, carol)
			}
		}
	})
}
