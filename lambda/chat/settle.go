// The settle timer (docs/design.md, The page converges): a change of a
// room's count that no frame announced (a big room whose credit did not
// pay, or a credit that failed) arms one delayed message per room per quiet
// spell; when it fires, the same function tells the room its count, once
// the room has been quiet for a whole delay (else it waits one more).

package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// SettleQueue sends the settle timer's delayed messages: SQS's SendMessage
// with DelaySeconds on the settle queue, whose event source mapping
// invokes the function with them (Service.Settle).
type SettleQueue interface {
	Send(ctx context.Context, body []byte, delay time.Duration) error
}

// settleStore keeps a room's pending settle on the room's item (docs/design.md,
// The settle timer).
type settleStore interface {
	// ArmSettle marks a settle pending for the room, held by token until
	// until, if none is pending: none marked, or one whose hold ended
	// before now (its message was lost, or is late), or one marked with
	// this token (a retry of an applied write). False when another is
	// pending.
	ArmSettle(ctx context.Context, room, token string, until, now time.Time) (bool, error)
	// HoldSettle moves the hold of the room's pending settle to until if
	// token still holds it; false when it does not.
	HoldSettle(ctx context.Context, room, token string, until time.Time) (bool, error)
	// EndSettle clears the room's pending settle if token holds it.
	EndSettle(ctx context.Context, room, token string) error
	// ReadSettle reads the room's count as ReadCount does, and the token
	// of its pending settle ("" when none).
	ReadSettle(ctx context.Context, room string) (RoomCount, string, error)
}

// Settle timing defaults (Options.SettleDelay, SettleHold).
const (
	// DefaultSettleDelay is the delay of a settle message: the room is told
	// its count once it has been quiet that long, at most twice that after
	// its last change (plus SQS's and Lambda's latency).
	DefaultSettleDelay = 2 * time.Second
	// DefaultSettleHold is how long past its delay a pending settle holds
	// the room: a message lost with its sender (killed between the
	// conditional write and SendMessage) delays the next change's settle no
	// longer than that.
	DefaultSettleHold = 20 * time.Second
)

// SettleDeliveriesPerSecond bounds what a room's settles cost: a settle
// reaches every member, and a room has at most one per delay, so a room of
// more than SettleDeliveriesPerSecond × SettleDelay members waits longer
// (one second per SettleDeliveriesPerSecond members): 10 s for 10,000.
const SettleDeliveriesPerSecond = 1000

// settleDelay is the delay of a room of count members' settle.
func (inv *invocation) settleDelay(count int) time.Duration {
	d := max(inv.opt.SettleDelay, time.Duration(count)*time.Second/SettleDeliveriesPerSecond)
	return min(d, 15*time.Minute) // SQS's longest delay
}

// settleMessage is the body of a settle message: the room, the token that
// holds its pending settle, and the count's version when it was armed.
type settleMessage struct {
	Room    string `json:"room"`
	Token   string `json:"token"`
	Version int64  `json:"v"`
}

// unannounced arms the room's settle after a change of its count that no
// frame told the room (rc as counted; a credit that failed gives the zero
// count, whose version never matches: the settle waits one delay more).
func (inv *invocation) unannounced(ctx context.Context, room string, rc RoomCount) {
	if inv.opt.Settle == nil {
		return
	}
	now := inv.opt.Now()
	token := newToken()
	delay := inv.settleDelay(rc.Count)
	ok, err := inv.store.ArmSettle(ctx, room, token, now.Add(delay+inv.opt.SettleHold), now)
	if err != nil {
		inv.log.Error("arm the room's settle", "room", room, "error", err)
		inv.m.count(countInternal, 1)
		return
	}
	if ok {
		inv.sendSettle(ctx, settleMessage{Room: room, Token: token, Version: rc.Version}, delay)
	}
}

// sendSettle sends the settle message; a send that fails clears the
// pending settle it held (best effort: else the hold ends by time).
func (inv *invocation) sendSettle(ctx context.Context, msg settleMessage, delay time.Duration) bool {
	body, _ := json.Marshal(msg)
	if err := inv.opt.Settle.Send(ctx, body, delay); err != nil {
		inv.log.Error("send the room's settle", "room", msg.Room, "error", err)
		inv.m.count(countInternal, 1)
		if err := inv.store.EndSettle(ctx, msg.Room, msg.Token); err != nil {
			inv.log.Warn("clear the room's settle", "room", msg.Room, "error", err)
		}
		return false
	}
	return true
}

// Settle handles a batch of settle messages (and forget messages:
// forgetagain.go) from the settle queue's event source mapping: each one whose handling failed is reported in
// BatchItemFailures, and SQS delivers it again after its visibility
// timeout (or moves it to the dead-letter queue). A message may come more
// than once: its token and version make a repeat harmless.
func (s *Service) Settle(ctx context.Context, ev events.SQSEvent) events.SQSEventResponse {
	inv := s.begin(ctx, events.APIGatewayWebsocketProxyRequestContext{RouteKey: "settle", Stage: s.opt.Stage})
	defer inv.end()
	ctx = withDeadlineMargin(ctx, s.opt.DeadlineMargin, s.opt.DeadlineClock)
	var resp events.SQSEventResponse
	for _, r := range ev.Records {
		if err := inv.settle(ctx, r.Body); err != nil {
			inv.log.Error("settle a room", "messageId", r.MessageId, "error", err)
			inv.m.count(countInternal, 1)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	return resp
}

// settleEvent decodes an SQS event (every record from the settle queue:
// the only event source mapping the function has) for Settle.
func (s *Service) settleEvent(ctx context.Context, raw json.RawMessage, source string) (any, error) {
	if source != sqsEventSource {
		return nil, fmt.Errorf("an event of records from %q: the function takes records from SQS only", source)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("decode the SQS event: %w", err)
	}
	return s.Settle(ctx, ev), nil
}

// sqsEventSource is an SQS record's eventSource.
const sqsEventSource = "aws:sqs"

// errBadSettle: a message the function did not make (it goes to the
// dead-letter queue, whose alarm tells the operator).
var errBadSettle = errors.New("not a settle message")

// settle handles one settle message:
//   - another token holds the room: a later settle covers it; nothing.
//   - none does: the message's settle is done (a repeat), unless the
//     count moved since (a settle that died after clearing): then arm anew.
//   - its token does, and the count moved since it was armed: wait one
//     delay more (the same token, held longer, a new message).
//   - its token does and the room was quiet: tell the room its count, then
//     clear the settle; a change that came in between found it pending
//     and armed nothing, so if the count moved by then, arm anew.
//
// A forget message (forgetagain.go, its kind "forget") is the second forget
// of a deleted account.
func (inv *invocation) settle(ctx context.Context, body string) error {
	if messageKind(body) == kindForget {
		return inv.forgetAgain(ctx, body)
	}
	var msg settleMessage
	if err := json.Unmarshal([]byte(body), &msg); err != nil || msg.Room == "" || msg.Token == "" {
		return errBadSettle
	}
	if inv.opt.Settle == nil {
		return errors.New("no settle queue configured")
	}
	rc, token, err := inv.store.ReadSettle(ctx, msg.Room)
	if err != nil {
		return err
	}
	switch {
	case token != "" && token != msg.Token:
		return nil
	case token == "":
		if rc.Version != msg.Version {
			inv.unannounced(ctx, msg.Room, rc)
		}
		return nil
	case rc.Version != msg.Version:
		now, delay := inv.opt.Now(), inv.settleDelay(rc.Count)
		held, err := inv.store.HoldSettle(ctx, msg.Room, msg.Token, now.Add(delay+inv.opt.SettleHold))
		if err != nil || !held {
			return err
		}
		msg.Version = rc.Version
		if !inv.sendSettle(ctx, msg, delay) {
			return fmt.Errorf("re-arm the settle of %s", msg.Room)
		}
		return nil
	}
	inv.broadcast(ctx, msg.Room, encode(countFrame{Type: KindPresence, Room: msg.Room, Count: rc.Count,
		TS: millis(inv.opt.Now()), CV: rc.cv()}), "", nil)
	if err := inv.store.EndSettle(ctx, msg.Room, msg.Token); err != nil {
		return err
	}
	after, _, err := inv.store.ReadSettle(ctx, msg.Room)
	if err != nil {
		return err
	}
	if after.Version != rc.Version {
		inv.unannounced(ctx, msg.Room, after)
	}
	return nil
}
