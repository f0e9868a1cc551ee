package chat_test

// hunt24c: an account's deletion and what it leaves of the person.

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// Dave edits a public message and a private one to alice, then deletes his
// account. design.md's rule for messages: his messages stay under the name
// they were sent with, and nothing ties their text to his account any more.
// Every version of an edited message is in the room's activity log (the
// edited record: the text before and after); those versions are his
// messages' text as much as the message item's, and must not keep his
// account id either.
func TestHunt24CADeletedAccountsEditedVersionsNoLongerCarryItsAccount(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24c-del-edited"
	alice, dave := h.JoinAs("alice", room), h.JoinAs("dave", room)
	h.Settle()
	pub := say(t, h, dave, "my address is 1 Elm St", alice)
	only(t, editFrom(t, h, dave, pub, "my address is 2 Elm St"), "edited")
	priv := whisper(t, h, dave, "my phone is 555-0100", "alice")
	only(t, editFrom(t, h, dave, priv, "my phone is 555-0199"), "edited")
	inbox(t, h, alice)
	h.Send(dave, `{"action":"deleteAccount","ref":"del"}`)
	if !deleted(t, h, "dave") {
		t.Fatal("dave's account is not deleted")
	}
	var n int
	for _, a := range activityLog(t, h, room) {
		if a.Kind != chat.KindEdited {
			continue
		}
		n++
		if a.FromAccount == "dave" || strings.Contains(a.Previous+a.Message, "dave") {
			t.Errorf("after dave's deletion the edited version %q (was %q) of message %s still names his account %q",
				a.Message, a.Previous, a.MessageID, a.FromAccount)
		}
	}
	if n != 2 {
		t.Errorf("the log has %d edited versions, want both of dave's kept (without his account)", n)
	}
}

// Dave's phone sends a message (or edits one) as he deletes his account
// from his laptop: the phone's frame was drawn from his budget before the
// deletion signed him out, and its message is stored just after the
// deletion forgot his records. The message stays (he wrote it) but, as
// every other message of his, without his account id or username: a later
// account registering "dave" would otherwise be shown as its author. The
// deletion forgets his records again once no invocation drawn before it
// can still write (a delayed message on the settle queue, delivered here).
func TestHunt24CAMessageStoredJustAfterItsSendersDeletionDoesNotKeepTheAccount(t *testing.T) {
	t.Parallel()
	for _, action := range []string{"sendPublic", "sendPrivate", "edit"} {
		t.Run(action, func(t *testing.T) {
			t.Parallel()
			q := &settleQueue{}
			h := chattest.New(t, chattest.SignedIn, func(o *chat.Options) { o.Settle = q })
			room := "h24c-del-inflight-" + strings.ToLower(action)
			alice, laptop := h.JoinAs("alice", room), h.JoinAs("dave", room)
			phone, _ := h.ConnectAs("dave", "dave", map[string]string{"room": room})
			h.Settle()
			body := `{"action":"sendPublic","message":"last words"}`
			switch action {
			case "sendPrivate":
				body = `{"action":"sendPrivate","message":"last words","to":["alice"]}`
			case "edit":
				body = `{"action":"edit","message":"last words","id":"` + say(t, h, phone, "first words", alice) + `"}`
			}
			inbox(t, h, alice)
			var fired atomic.Bool
			h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
				if (w.Op == "PutItem" || w.Op == "TransactWriteItems") && bytes.Contains(w.Body, []byte("last words")) &&
					fired.CompareAndSwap(false, true) {
					h.Send(laptop, `{"action":"deleteAccount","ref":"del"}`)
				}
			}})
			h.Send(phone, body)
			h.DynamoDB.Restore()
			if !fired.Load() || !deleted(t, h, "dave") {
				t.Fatal("the deletion did not run inside the phone's " + action)
			}
			forgetAgain(t, h, q)
			var seen bool
			for _, stream := range []string{"public#", "private#", "activity#", "reader#" + room + "#a:alice", "reader#" + room + "#a:dave"} {
				if !strings.HasPrefix(stream, "reader#") {
					stream += room
				}
				for _, it := range streamItems(t, h, stream) {
					if !strings.Contains(it, "last words") {
						continue // the activity log keeps his account on joined and left
					}
					seen = seen || !strings.HasSuffix(stream, "a:dave")
					if strings.Contains(it, `"dave"`) || strings.Contains(it, "a:dave") {
						t.Errorf("after dave's deletion his %s in %s still names his account: %s", action, stream, it)
					}
				}
			}
			if !seen {
				t.Errorf("dave's %s is not in the record", action)
			}
		})
	}
}

// Alice sends dave a private message as he deletes his account: she found
// him in the room before his deletion, and his private-history copy is
// put just after the deletion deleted his copies. The issue says a deleted
// account's private-history reader items are deleted; this one would stay
// for the log's retention, under his account id, but for the second
// forget.
func TestHunt24CAPrivateCopyPutJustAfterTheRecipientsDeletionIsNotLeft(t *testing.T) {
	t.Parallel()
	q := &settleQueue{}
	h := chattest.New(t, chattest.SignedIn, func(o *chat.Options) { o.Settle = q })
	const room = "h24c-del-copy"
	alice, dave := h.JoinAs("alice", room), h.JoinAs("dave", room)
	h.Settle()
	inbox(t, h, alice)
	stream := "reader#" + room + "#" + chat.Reader(chat.Connection{AccountID: "dave"})
	var fired atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		if w.Op == "PutItem" && bytes.Contains(w.Body, []byte(stream)) && fired.CompareAndSwap(false, true) {
			h.Send(dave, `{"action":"deleteAccount","ref":"del"}`)
		}
	}})
	h.Send(alice, `{"action":"sendPrivate","to":["dave"],"message":"for dave only"}`)
	h.DynamoDB.Restore()
	if !fired.Load() || !deleted(t, h, "dave") {
		t.Fatal("the deletion did not run inside alice's send")
	}
	forgetAgain(t, h, q)
	out, err := h.DB.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(h.Tables.Messages),
		KeyConditionExpression:    aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": contract.MessagesStream},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":s": &ddbtypes.AttributeValueMemberS{Value: stream}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 0 {
		t.Errorf("after dave's deletion %d private-history copies of his are left in %s", len(out.Items), stream)
	}
}

// Dave deletes his account from his laptop while his phone's page, which
// refreshed its ID token a moment after the deletion signed him out (its
// token issued after the sign-out: not refused by it), connects to the
// lobby before the tombstone is written. The deletion's tombstone
// transaction finds the phone's device (its version moved), reads again and
// puts the tombstone: the phone must not stay in the lobby under the name
// the deletion released, nor stay open.
func TestHunt24CAPhoneConnectingWithAFreshTokenDuringTheDeletionDoesNotStayListed(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24c-del-fresh"
	bob, laptop := h.JoinAs("bob", room), h.JoinAs("dave", room)
	h.Settle()
	var phone signedConn
	var fired atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		if w.Op == "TransactWriteItems" && bytes.Contains(w.Body, []byte(`"deleted"`)) && fired.CompareAndSwap(false, true) {
			h.Advance(2 * time.Second)
			now := h.Now()
			phone = newSignedConn("dave", now, now.Add(time.Hour))
			if resp := phone.event(t, h, contract.RouteConnect, "", map[string]string{"room": room}); resp.StatusCode == 200 {
				h.GW.Open(phone.id)
			}
		}
	}})
	h.Send(laptop, `{"action":"deleteAccount","ref":"del"}`)
	h.DynamoDB.Restore()
	if !fired.Load() || !deleted(t, h, "dave") {
		t.Fatal("the phone did not connect inside the deletion, or dave is not deleted")
	}
	h.Settle()
	s := state(t, h, bob)
	if !slices.Equal(s.Members, []string{"bob"}) || s.Count != 1 {
		t.Errorf("after dave's deletion bob's lobby lists %q counting %d, want [bob] and 1", s.Members, s.Count)
	}
	if !slices.Contains(h.GW.Closed(), phone.id) {
		t.Errorf("dave's phone is still open after his deletion")
	}
}

// Dave deletes his account from his phone while an operator deletes it too
// (each run inside the other's tombstone transaction, both orders): dave's
// page is answered accountDeleted, the operator done or already, both
// connections are closed, bob's lobby counts and lists bob alone, and the
// name is free for another account at once.
func TestHunt24CHeldTheOperatorsDeletionAndDavesOwnAtOnceConverge(t *testing.T) {
	t.Parallel()
	for _, inner := range []string{"operator", "dave"} {
		t.Run(inner+"-inside", func(t *testing.T) {
			t.Parallel()
			h, bob, daves := daveWithBob(t)
			var fired atomic.Bool
			var answer contract.OperatorAnswer
			var own []frame
			h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
				if w.Op == "TransactWriteItems" && bytes.Contains(w.Body, []byte(`"deleted"`)) && fired.CompareAndSwap(false, true) {
					if inner == "operator" {
						answer = operate(t, h, contract.OperatorRequest{Op: contract.OpDeleteAccount, Username: "dave"})
					} else {
						own = sendAnd(t, h, daves[0], `{"action":"deleteAccount","ref":"del"}`)
					}
				}
			}})
			if inner == "operator" {
				own = sendAnd(t, h, daves[0], `{"action":"deleteAccount","ref":"del"}`)
			} else {
				answer = operate(t, h, contract.OperatorRequest{Op: contract.OpDeleteAccount, Username: "dave"})
			}
			h.DynamoDB.Restore()
			if !fired.Load() {
				t.Fatal("no deletion ran inside the other")
			}
			if !slices.ContainsFunc(own, func(f frame) bool { return f.Type == "accountDeleted" }) {
				t.Errorf("dave's page got %+v, want accountDeleted", own)
			}
			if answer.Result != contract.ResultDone && answer.Result != contract.ResultAlready {
				t.Errorf("the operator was answered %+v", answer)
			}
			for _, d := range daves {
				if !slices.Contains(h.GW.Closed(), d) {
					t.Errorf("dave's connection %s is open", d)
				}
			}
			h.Settle()
			if s := state(t, h, bob); !slices.Equal(s.Members, []string{"bob"}) || s.Count != 1 {
				t.Errorf("bob's lobby lists %q counting %d", s.Members, s.Count)
			}
			mallory, _ := h.ConnectAs("sub-mallory", "mallory", map[string]string{"room": "lobby", "name": "dave"})
			if s := state(t, h, mallory); s.You != "dave" {
				t.Errorf("another account asking for dave is %q", s.You)
			}
		})
	}
}

// sendAnd sends body from id and returns its answer and every frame it was sent.
func sendAnd(t *testing.T, h *chattest.Harness, id, body string) []frame {
	t.Helper()
	var fs []frame
	if resp := h.Send(id, body); resp != "" {
		fs = append(fs, decode(t, []byte(resp)))
	}
	return append(fs, inbox(t, h, id)...)
}

// Alice whispered to dave before he deleted his account. Her message stays
// (it is hers), but nothing of it should name dave's account any more:
// design.md's rule removes the account id from his own messages because it
// is the key every other record of his is found by; a private message to
// him must not keep it in its recipients' accounts (toAccounts) and
// readers either (the name it was sent to stays). Alice can still edit it.
func TestHunt24CAPrivateMessageToADeletedAccountNoLongerNamesItsAccount(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24c-del-to"
	alice, dave := h.JoinAs("alice", room), h.JoinAs("dave", room)
	h.Settle()
	whisper(t, h, alice, "to dave", "dave")
	inbox(t, h, dave)
	h.Send(dave, `{"action":"deleteAccount","ref":"del"}`)
	if !deleted(t, h, "dave") {
		t.Fatal("dave is not deleted")
	}
	recs, _, err := h.Store.PrivateHistory(context.Background(), room, chat.Reader(chat.Connection{AccountID: "alice"}), "", 50)
	if err != nil || len(recs) != 1 {
		t.Fatalf("alice's private history: %d (%v)", len(recs), err)
	}
	if slices.Contains(recs[0].ToAccounts, "dave") || recs[0].Message != "to dave" || !slices.Equal(recs[0].To, []string{"dave"}) {
		t.Errorf("alice's copy of her message to dave is %q to %q, accounts %q: want it kept, to the name dave, without his account",
			recs[0].Message, recs[0].To, recs[0].ToAccounts)
	}
	for _, it := range streamItems(t, h, "private#"+room) {
		if strings.Contains(it, `"dave"`) || strings.Contains(it, "a:dave") {
			t.Errorf("the message item still names dave's account: %s", it)
		}
	}
	// alice edits it: her copy and the item change, dave's copy is not made again
	inbox(t, h, alice)
	only(t, editFrom(t, h, alice, recs[0].ID, "to dave, edited"), "edited")
	if n := len(streamItems(t, h, "reader#"+room+"#a:dave")); n != 0 {
		t.Errorf("alice's edit left %d copies of dave's", n)
	}
}

// streamItems are the items of one partition of the Messages table, each
// as its attributes printed, with dave's name as a name ("dave" in "to")
// left out: what remains names his account, if anything does.
func streamItems(t *testing.T, h *chattest.Harness, stream string) []string {
	t.Helper()
	out, err := h.DB.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(h.Tables.Messages),
		KeyConditionExpression:    aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": contract.MessagesStream},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":s": &ddbtypes.AttributeValueMemberS{Value: stream}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	var items []string
	for _, it := range out.Items {
		delete(it, "to")
		delete(it, "from")
		items = append(items, fmt.Sprintf("%v", attrs(it)))
	}
	return items
}

// attrs prints an item's attributes: strings quoted, lists of them.
func attrs(it map[string]ddbtypes.AttributeValue) map[string]string {
	out := map[string]string{}
	for k, v := range it {
		switch v := v.(type) {
		case *ddbtypes.AttributeValueMemberS:
			out[k] = fmt.Sprintf("%q", v.Value)
		case *ddbtypes.AttributeValueMemberL:
			var l []string
			for _, e := range v.Value {
				if s, ok := e.(*ddbtypes.AttributeValueMemberS); ok {
					l = append(l, fmt.Sprintf("%q", s.Value))
				}
			}
			out[k] = strings.Join(l, ",")
		}
	}
	return out
}

// forgetAgain delivers the deletion's second forget as SQS would: once its
// delay is over, which must outlast any invocation drawn before the
// deletion (the harness's clock moved past it). Settle messages sent
// meanwhile are delivered too.
func forgetAgain(t *testing.T, h *chattest.Harness, q *settleQueue) {
	t.Helper()
	bodies, delays := q.takeDelayed()
	var n int
	for i, b := range bodies {
		if strings.Contains(b, `"kind":"forget"`) {
			n++
			if delays[i] <= contract.FunctionTimeout {
				t.Errorf("the second forget is delayed %v, not past the function's timeout %v", delays[i], contract.FunctionTimeout)
			}
			h.Advance(delays[i])
		}
		deliverSettle(t, h, b)
	}
	if n == 0 {
		t.Errorf("the deletion sent no second forget (sent %q)", bodies)
	}
}

// Dave's rename to Davey was killed right after it claimed Davey (the
// claim's item names his account; his item still says dave), then he
// deletes his account. Davey must be free for another account: the
// deletion releases the names his item holds, and a claim no item holds
// must not outlive the account (once past the grace a running rename has).
func TestHunt24CHeldANameClaimedByAKilledRenameIsFreeAfterTheDeletion(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "h24c-del-orphan"
	dave := h.JoinAs("dave", room)
	h.Settle()
	if _, err := h.Store.ClaimAccountName(context.Background(), "dave", "dave", "Davey"); err != nil {
		t.Fatal(err)
	}
	h.Send(dave, `{"action":"deleteAccount","ref":"del"}`)
	if !deleted(t, h, "dave") {
		t.Fatal("dave is not deleted")
	}
	h.Advance(2 * time.Minute) // past the grace a claim has for its rename to finish
	mallory, resp := h.ConnectAs("mallory", "mallory", map[string]string{"room": room, "name": "Davey"})
	if resp.StatusCode != 200 {
		t.Fatalf("mallory's $connect: %d", resp.StatusCode)
	}
	if s := state(t, h, mallory); s.You != "Davey" {
		t.Errorf("mallory asking for Davey after dave's deletion is %q", s.You)
	}
}
