// Operators without a page (docs/auth.md, "Operators"): the function answers
// an operator event, sent with `aws lambda invoke` (scripts/admin.sh): IAM
// decides who may invoke the function, and API Gateway and Cognito can
// never send the event's one top-level key (contract.OperatorEventKey).
// Every act is recorded as activity: who ("operator"), whom, what, why,
// when.

package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/oklog/ulid/v2"

	"github.com/groupchat/groupchat/contract"
)

// OperatorWho is who an operator's act is recorded as done by: the
// invoking IAM principal is in CloudTrail's record of the Invoke call, not
// in the event.
const OperatorWho = "operator"

// operation answers one operator request.
type operation func(inv *invocation, ctx context.Context, req contract.OperatorRequest) contract.OperatorAnswer

// operations are the operator's operations by name; ban and unban are
// moderation's (sanction.go), acted by the operator.
var operations = map[string]operation{
	contract.OpCloseConnections: (*invocation).opCloseConnections,
	contract.OpRemoveMessage:    (*invocation).opRemoveMessage,
	contract.OpDeleteAccount:    (*invocation).opDeleteAccount,
	contract.OpBan:              (*invocation).opBan,
	contract.OpUnban:            (*invocation).opUnban,
}

// Operate answers an operator event: raw is the value of its
// contract.OperatorEventKey. The answer is never a function error (the
// invoker reads it from the payload): its Result or Error says.
func (s *Service) Operate(ctx context.Context, raw json.RawMessage) (contract.OperatorAnswer, error) {
	var req contract.OperatorRequest
	err := json.Unmarshal(raw, &req)
	inv := s.begin(ctx, events.APIGatewayWebsocketProxyRequestContext{RouteKey: "operator:" + truncate(req.Op), Stage: s.opt.Stage})
	defer inv.end()
	ctx = withDeadlineMargin(ctx, s.opt.DeadlineMargin, s.opt.DeadlineClock)
	if err != nil {
		return opFailed(req, contract.OpErrBadRequest, "The operator event's value is not a request: %v.", err), nil
	}
	op, ok := operations[req.Op]
	if !ok {
		inv.log.Warn("unknown operation", "op", truncate(req.Op))
		return opFailed(req, contract.OpErrUnknownOperation, "Unknown operation %q.", truncate(req.Op)), nil
	}
	if p := checkReason(req.Reason); p != nil {
		return opFailed(req, contract.OpErrBadRequest, "%s", p.Message), nil
	}
	answer := op(inv, ctx, req)
	answer.Op = req.Op
	inv.log.Info("operator", "op", req.Op, "result", answer.Result, "error", answer.Error, "accountId", answer.Account)
	return answer, nil
}

func opFailed(req contract.OperatorRequest, code, format string, args ...any) contract.OperatorAnswer {
	return contract.OperatorAnswer{Op: req.Op, Error: code, Message: fmt.Sprintf(format, args...)}
}

// opInternal logs a storage failure and answers internal.
func (inv *invocation) opInternal(req contract.OperatorRequest, doing string, err error) contract.OperatorAnswer {
	inv.log.Error(doing, "error", err)
	inv.m.count(countInternal, 1)
	return opFailed(req, contract.OpErrInternal, "Could not %s just now: run it again.", doing)
}

// whom finds the account a request is about: its account, or the account
// that holds its username's reservation.
func (inv *invocation) whom(ctx context.Context, req contract.OperatorRequest) (string, *contract.OperatorAnswer) {
	if len(req.Account) > ClaimMaxBytes || len(req.Username) > ClaimMaxBytes {
		a := opFailed(req, contract.OpErrBadRequest, "The account or username is too long.")
		return "", &a
	}
	if inv.opt.Verifier == nil {
		a := opFailed(req, contract.OpErrSignInOff, "Sign-in is off in this environment: there are no accounts.")
		return "", &a
	}
	if req.Account != "" {
		return req.Account, nil
	}
	name, p := CleanName(req.Username)
	if req.Username == "" || p != nil {
		a := opFailed(req, contract.OpErrBadRequest, "Name the account: an account (its sub) or a username.")
		return "", &a
	}
	owner, err := inv.store.ReservationOwner(ctx, req.Username, name)
	if err != nil {
		a := inv.opInternal(req, "read the username's reservation", err)
		return "", &a
	}
	if owner == "" {
		a := opFailed(req, contract.OpErrNotFound,
			"No account holds the username %q: give its account (its sub), also to finish a deletion run before.", req.Username)
		return "", &a
	}
	return owner, nil
}

// opCloseConnections closes every connection of an account: each leaves its
// room as its $disconnect would, then is closed.
func (inv *invocation) opCloseConnections(ctx context.Context, req contract.OperatorRequest) contract.OperatorAnswer {
	id, fail := inv.whom(ctx, req)
	if fail != nil {
		return *fail
	}
	a, err := inv.store.Account(ctx, id)
	if err != nil {
		return inv.opInternal(req, "read the account", err)
	}
	var ids []string
	for _, d := range a.Devices {
		sub := *inv
		sub.connID = d.ConnID
		sub.disconnect(ctx)
		ids = append(ids, d.ConnID)
	}
	inv.closeConnections(ctx, ids)
	inv.logAct(ctx, OperatorWho, req.Op, cmpName(a.Name, req.Username), id, req.Reason)
	return contract.OperatorAnswer{Result: contract.ResultDone, Account: id, Closed: len(ids),
		Message: fmt.Sprintf("Closed %d connections.", len(ids))}
}

// opRemoveMessage removes a room's public message as a moderator's remove
// does, recorded as the operator's: the room is told.
func (inv *invocation) opRemoveMessage(ctx context.Context, req contract.OperatorRequest) contract.OperatorAnswer {
	room, p := CleanRoom(req.Room)
	if p != nil {
		return opFailed(req, contract.OpErrBadRequest, "room: %s", p.Message)
	}
	if _, err := ulid.ParseStrict(req.Message); err != nil {
		return opFailed(req, contract.OpErrBadRequest, "message: a message id (a ULID) is needed.")
	}
	msg, err := inv.store.Message(ctx, room, req.Message)
	if errors.Is(err, ErrNotFound) {
		return opFailed(req, contract.OpErrNotFound, "There is no such public message in room %q.", room)
	}
	if err != nil {
		return inv.opInternal(req, "read the message", err)
	}
	now := inv.opt.Now().Truncate(time.Millisecond)
	rm := Removal{By: RemovedByOperator, ByName: OperatorWho, Reason: req.Reason, At: now}
	act := Record{Kind: KindRemoved, Room: room, From: OperatorWho, To: []string{msg.From}, MessageID: msg.ID,
		Reason: req.Reason, TS: now}
	if msg.FromAccount != "" {
		act.ToAccounts = []string{msg.FromAccount}
	}
	inv.stamp(&act)
	rm, mine, err := inv.store.RemoveMessage(ctx, room, msg.ID, rm, act)
	if errors.Is(err, ErrNotFound) {
		return opFailed(req, contract.OpErrNotFound, "There is no such public message in room %q.", room)
	}
	if err != nil {
		return inv.opInternal(req, "remove the message", err)
	}
	// Told again on a repeat, as remove does: a run killed after the
	// write and before this tells the room when it is run again.
	frame := removedFrame{Type: KindRemoved, Room: room, ID: msg.ID, By: rm.By, Reason: rm.Reason, At: millis(rm.At)}
	inv.broadcast(ctx, room, encode(frame), "", nil)
	result := contract.ResultDone
	if !mine {
		result = contract.ResultAlready
	}
	return contract.OperatorAnswer{Result: result, Account: msg.FromAccount,
		Message: fmt.Sprintf("Removed (by %s).", rm.By)}
}

// opDeleteAccount deletes an account as its person's deleteAccount does;
// its username is needed (its reservation is released).
func (inv *invocation) opDeleteAccount(ctx context.Context, req contract.OperatorRequest) contract.OperatorAnswer {
	if req.Username == "" {
		return opFailed(req, contract.OpErrBadRequest, "deleteAccount needs the username (its reservation is released).")
	}
	id, fail := inv.whom(ctx, req)
	if fail != nil && fail.Error == contract.OpErrNotFound {
		// No account holds the username: one that never connected has
		// only its reservation, released here.
		name, _ := CleanName(req.Username)
		released, err := inv.store.ReleaseReservation(ctx, req.Username, name)
		if err != nil {
			return inv.opInternal(req, "release the username's reservation", err)
		}
		if released == "" {
			return *fail
		}
		inv.logAct(ctx, OperatorWho, req.Op, req.Username, "", req.Reason)
		return contract.OperatorAnswer{Result: contract.ResultDone, Released: []string{released},
			Message: "The username had no account here: its reservation is released: delete the sign-in account too."}
	}
	if fail != nil {
		return *fail
	}
	del, err := inv.deleteAccountOf(ctx, id, req.Username, "")
	if err != nil {
		return inv.opInternal(req, "delete the account", err)
	}
	result := contract.ResultDone
	if del.already {
		result = contract.ResultAlready
	}
	inv.logAct(ctx, OperatorWho, req.Op, req.Username, id, req.Reason)
	return contract.OperatorAnswer{Result: result, Account: id, Closed: del.closed, Released: del.released,
		Message: fmt.Sprintf("Deleted; %d names released, %d connections closed: delete the sign-in account too.",
			len(del.released), del.closed)}
}

// opBan bans an account from a room, or (no room) from the environment,
// until the request's until (none: until lifted), as a moderator's ban
// does (sanction.go), recorded as the operator's.
func (inv *invocation) opBan(ctx context.Context, req contract.OperatorRequest) contract.OperatorAnswer {
	return inv.opSanction(ctx, req, (*invocation).Ban)
}

// opUnban lifts an account's ban from a room, or from the environment.
func (inv *invocation) opUnban(ctx context.Context, req contract.OperatorRequest) contract.OperatorAnswer {
	if req.Until != 0 {
		return opFailed(req, contract.OpErrBadRequest, "unban takes no until.")
	}
	return inv.opSanction(ctx, req, (*invocation).Unban)
}

func (inv *invocation) opSanction(ctx context.Context, req contract.OperatorRequest,
	do func(*invocation, context.Context, Act) (Record, error)) contract.OperatorAnswer {
	act := Act{By: Actor{Operator: true}, Reason: req.Reason}
	if req.Room != "" {
		room, p := CleanRoom(req.Room)
		if p != nil {
			return opFailed(req, contract.OpErrBadRequest, "room: %s", p.Message)
		}
		act.Room = room
	}
	if req.Until != 0 {
		act.Until = time.UnixMilli(req.Until)
		if !act.Until.After(inv.opt.Now()) {
			return opFailed(req, contract.OpErrBadRequest, "until is in the past.")
		}
	}
	id, fail := inv.whom(ctx, req)
	if fail != nil {
		return *fail
	}
	act.Target = id
	if _, err := do(inv, ctx, act); errors.Is(err, ErrUnknownAccount) {
		return opFailed(req, contract.OpErrNotFound, "The account %q has never connected here.", id)
	} else if err != nil {
		return inv.opInternal(req, req.Op, err)
	}
	where := "the environment"
	if act.Room != "" {
		where = "room " + act.Room
	}
	return contract.OperatorAnswer{Result: contract.ResultDone, Account: id, Message: fmt.Sprintf("%s: %s.", req.Op, where)}
}

// checkReason bounds an act's reason as remove's: at most ReasonMax
// characters, no control characters but newline, carriage return and tab.
func checkReason(reason string) *Problem {
	if utf8.RuneCountInString(reason) > contract.ReasonMax {
		return problem(contract.CodeBadField, "The reason is at most %d characters.", contract.ReasonMax)
	}
	for _, r := range reason {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return problem(contract.CodeBadField, "The reason cannot contain control characters.")
		}
	}
	return nil
}
