package chat_test

// hunt24d: the second forget of a deleted account (forgetagain.go) as the
// settle queue really delivers it: at least once, retried after a write
// applied then failed, with its invocation killed between two requests,
// and in a batch with a message that fails.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// lateForget: dave's phone sends alice a private message while his laptop
// deletes his account, and the message lands after the deletion's first
// forget (its copy for alice and its item both name dave). It returns the
// second forget's message, not delivered yet (its delay passed).
func lateForget(t *testing.T, room string) (*chattest.Harness, string) {
	t.Helper()
	q := &settleQueue{}
	h := chattest.New(t, chattest.SignedIn, func(o *chat.Options) { o.Settle = q })
	alice, laptop := h.JoinAs("alice", room), h.JoinAs("dave", room)
	phone, _ := h.ConnectAs("dave", "dave", map[string]string{"room": room})
	h.Settle()
	inbox(t, h, alice)
	var fired atomic.Bool
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		if w.Op == "PutItem" && bytes.Contains(w.Body, []byte("last words")) && fired.CompareAndSwap(false, true) {
			h.Send(laptop, `{"action":"deleteAccount","ref":"del"}`)
		}
	}})
	h.Send(phone, `{"action":"sendPrivate","message":"last words","to":["alice"]}`)
	h.DynamoDB.Restore()
	if !fired.Load() || !deleted(t, h, "dave") {
		t.Fatal("the deletion did not run inside the phone's send")
	}
	bodies, delays := q.takeDelayed()
	for i, b := range bodies {
		if strings.Contains(b, `"kind":"forget"`) {
			h.Advance(delays[i])
			return h, b
		}
	}
	t.Fatalf("the deletion sent no second forget (sent %q)", bodies)
	return nil, ""
}

// namesDave lists the records of room that still carry dave's account
// with his last words (the activity log keeps his account on joined and
// left, by design).
func namesDave(t *testing.T, h *chattest.Harness, room string) []string {
	t.Helper()
	var out []string
	for _, stream := range []string{"public#" + room, "private#" + room, "activity#" + room,
		"reader#" + room + "#a:alice", "reader#" + room + "#a:dave"} {
		for _, it := range streamItems(t, h, stream) {
			if strings.Contains(it, "last words") && (strings.Contains(it, `"dave"`) || strings.Contains(it, "a:dave")) {
				out = append(out, stream+": "+it)
			}
		}
	}
	return out
}

// settleFailures delivers one batch of queue messages and returns the ids
// of those reported failed.
func settleFailures(t *testing.T, ctx context.Context, h *chattest.Harness, bodies ...string) []string {
	t.Helper()
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprint("m", i), Body: b, EventSource: "aws:sqs"})
	}
	raw, _ := json.Marshal(ev)
	out, err := h.Service.Invoke(ctx, raw)
	if err != nil {
		return []string{err.Error()}
	}
	var ids []string
	for _, f := range out.(events.SQSEventResponse).BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// Delivered twice (SQS's at-least-once), the second forget leaves nothing
// of dave and reports nothing failed.
func TestHunt24DASecondForgetDeliveredTwiceForgetsOnceAndFailsNothing(t *testing.T) {
	t.Parallel()
	const room = "h24d-forget-twice"
	h, forget := lateForget(t, room)
	if len(namesDave(t, h, room)) == 0 {
		t.Fatal("the late message does not name dave before the second forget: nothing to test")
	}
	for i := range 2 {
		if failed := settleFailures(t, context.Background(), h, forget); len(failed) > 0 {
			t.Errorf("delivery %d of the second forget reported failed: %v", i+1, failed)
		}
	}
	if left := namesDave(t, h, room); len(left) > 0 {
		t.Errorf("after the second forget, delivered twice, records still name dave:\n%s", strings.Join(left, "\n"))
	}
}

// Each write of the second forget applied and answered 500 (the SDK
// retries it; a conditional one then fails its condition against its own
// first attempt): delivered again as SQS would while it reports failure
// (five receives), it must end with nothing of dave.
func TestHunt24DASecondForgetWhoseWritesAppliedThenFailedEndsForgotten(t *testing.T) {
	t.Parallel()
	const room = "h24d-forget-atf"
	h, forget := lateForget(t, room)
	var mu sync.Mutex
	seen := map[string]bool{}
	h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: func(w ddbproxy.Write) bool {
		mu.Lock()
		defer mu.Unlock()
		first := !seen[string(w.Body)]
		seen[string(w.Body)] = true
		return first // each write's first attempt; the SDK's retry is answered
	}})
	var failed []string
	for range 5 {
		if failed = settleFailures(t, context.Background(), h, forget); len(failed) == 0 {
			break
		}
	}
	h.DynamoDB.Restore()
	if len(failed) > 0 {
		t.Errorf("the second forget failed five receives in a row (to the dead-letter queue): %v", failed)
	}
	if left := namesDave(t, h, room); len(left) > 0 {
		t.Errorf("after the second forget records still name dave:\n%s", strings.Join(left, "\n"))
	}
}

// In one batch with a message the function did not make, only that one is
// reported failed; the forget is done.
func TestHunt24DASecondForgetInABatchWithAFailingMessageIsDone(t *testing.T) {
	t.Parallel()
	const room = "h24d-forget-batch"
	h, forget := lateForget(t, room)
	failed := settleFailures(t, context.Background(), h, `{"kind":"forget","account":"dave"}`, forget, `not json`)
	if strings.Join(failed, ",") != "m0,m2" {
		t.Errorf("the batch reported %v failed, want m0,m2", failed)
	}
	if left := namesDave(t, h, room); len(left) > 0 {
		t.Errorf("after the batch records still name dave:\n%s", strings.Join(left, "\n"))
	}
}

// The second forget killed right after each of its DynamoDB requests (its
// batch unanswered: SQS delivers it again after the visibility timeout),
// then delivered again, leaves nothing of dave.
func TestHunt24DASecondForgetKilledAfterEachRequestThenDeliveredAgainEndsForgotten(t *testing.T) {
	t.Parallel()
	const room = "h24d-forget-kill"
	h, forget := lateForget(t, room)
	n := len(h.Cut(-1, func(ctx context.Context) { settleFailures(t, ctx, h, forget) }).Requests())
	if n < 3 {
		t.Fatalf("the second forget made %d requests", n)
	}
	for k := 1; k < n; k++ {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			t.Parallel()
			h, forget := lateForget(t, fmt.Sprint(room, "-", k))
			crash := h.Cut(k, func(ctx context.Context) { settleFailures(t, ctx, h, forget) })
			if failed := settleFailures(t, context.Background(), h, forget); len(failed) > 0 {
				t.Errorf("delivered again after a kill after request %d (%v), it reported failed: %v", k, crash.Requests()[k-1], failed)
			}
			if left := namesDave(t, h, fmt.Sprint(room, "-", k)); len(left) > 0 {
				t.Errorf("killed after request %d (%v), then delivered again, records still name dave:\n%s",
					k, crash.Requests()[k-1], strings.Join(left, "\n"))
			}
		})
	}
}

// A dead-lettered second forget (five receives failed: a throttled table)
// is redriven by the operator after the dead-letter queue's alarm, days
// later: dave's tombstone has expired (the table's TTL deleted it). No
// item is no live account: the forget must still be done, not dropped as
// "not deleted".
func TestHunt24DADeadLetteredSecondForgetRedrivenAfterTheTombstoneExpiredIsDone(t *testing.T) {
	t.Parallel()
	const room = "h24d-forget-redrive"
	h, forget := lateForget(t, room)
	if _, err := h.DB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(h.Tables.Connections),
		Key: map[string]ddbtypes.AttributeValue{contract.ConnPK: &ddbtypes.AttributeValueMemberS{Value: contract.AccountItemPrefix + "dave"}}}); err != nil {
		t.Fatal(err)
	}
	if failed := settleFailures(t, context.Background(), h, forget); len(failed) > 0 {
		t.Errorf("the redriven forget reported failed: %v", failed)
	}
	if left := namesDave(t, h, room); len(left) > 0 {
		t.Errorf("after the redriven forget records still name dave:\n%s", strings.Join(left, "\n"))
	}
	if a, err := h.Store.Account(context.Background(), "dave"); err != nil || a.Known {
		t.Errorf("the redriven forget made dave an item: %+v (%v)", a, err)
	}
}
