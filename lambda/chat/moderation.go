// The moderation acts' frames (mute, unmute, kick, ban, unban): a
// moderator's, decided only by its verified token's group (Identity.Moderator),
// on an account in its own room, or (ban, unban) in the whole environment.
// sanction.go makes the change; here are the frames' fields, the refusals
// of muted and banned accounts, and a refused $connect.

package chat

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
)

var (
	notModerator = &Problem{Code: contract.CodeForbidden, Message: "Only a moderator can do that."}
	unknownAcct  = &Problem{Code: contract.CodeUnknownAccount, Message: "No account of that id has signed in here."}
)

func (inv *invocation) mute(ctx context.Context, req request) []byte {
	return inv.moderate(ctx, req, contract.MuteMinutesMax, true, false, (*invocation).Mute)
}
func (inv *invocation) unmute(ctx context.Context, req request) []byte {
	return inv.moderate(ctx, req, 0, false, false, (*invocation).Unmute)
}
func (inv *invocation) kick(ctx context.Context, req request) []byte {
	return inv.moderate(ctx, req, 0, false, false, (*invocation).Kick)
}
func (inv *invocation) ban(ctx context.Context, req request) []byte {
	return inv.moderate(ctx, req, contract.BanMinutesMax, false, true, (*invocation).Ban)
}
func (inv *invocation) unban(ctx context.Context, req request) []byte {
	return inv.moderate(ctx, req, 0, false, true, (*invocation).Unban)
}

// moderate reads an act's fields (maxMinutes 0: it has no minutes; scoped:
// it has a scope), refuses a caller who is not a moderator, and makes the
// act with do. The moderator is answered with the act's moderated frame.
func (inv *invocation) moderate(ctx context.Context, req request, maxMinutes int, needMinutes, scoped bool,
	do func(*invocation, context.Context, Act) (Record, error)) []byte {
	account, p := field[string](req, "account", "a string")
	if p != nil {
		return inv.fail(req, p)
	}
	reason, p := removalReason(req)
	if p != nil {
		return inv.fail(req, p)
	}
	var mins float64
	if maxMinutes > 0 {
		if mins, p = minutesField(req, maxMinutes, needMinutes); p != nil {
			return inv.fail(req, p)
		}
	}
	env := false
	if scoped {
		if env, p = scopeField(req); p != nil {
			return inv.fail(req, p)
		}
	}
	c, _, fail := inv.limitedCaller(ctx, req)
	if fail != nil {
		return fail
	}
	if !inv.id.Moderator {
		return inv.fail(req, notModerator)
	}
	if account == "" || len(account) > ClaimMaxBytes {
		return inv.fail(req, unknownAcct)
	}
	act := Act{By: Actor{Account: c.AccountID, Name: c.Name, ConnID: c.ID}, Target: account, Room: c.Room, Reason: reason}
	if env {
		act.Room = ""
	}
	if mins > 0 {
		act.Until = inv.opt.Now().Add(time.Duration(mins) * time.Minute).Truncate(time.Millisecond)
	}
	r, err := do(inv, ctx, act)
	if errors.Is(err, ErrUnknownAccount) {
		return inv.fail(req, unknownAcct)
	}
	if err != nil {
		return inv.internal(req, "moderate", err)
	}
	inv.m.count(countAccepted, 1)
	f := r.moderated()
	f.Ref = req.Ref
	return encode(f)
}

// minutesField reads an act's minutes: a whole number from 1 to max;
// absent (when not needed) is 0, until lifted.
func minutesField(req request, max int, need bool) (float64, *Problem) {
	raw, ok := req.fields["minutes"]
	if !ok || string(raw) == "null" {
		if need {
			return 0, problem(contract.CodeMissingField, "The field %q is required.", "minutes")
		}
		return 0, nil
	}
	var m float64
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, problem(contract.CodeBadField, "The field %q must be a number.", "minutes")
	}
	if m < 1 || m > float64(max) || m != math.Trunc(m) {
		return 0, problem(contract.CodeDurationInvalid, "The field %q must be a whole number from 1 to %d.", "minutes", max)
	}
	return m, nil
}

// scopeField reads a ban's scope: env reports the whole environment.
func scopeField(req request) (env bool, _ *Problem) {
	raw, ok := req.fields["scope"]
	if !ok || string(raw) == "null" {
		return false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return false, problem(contract.CodeBadField, "The field %q must be a string.", "scope")
	}
	if s != contract.ScopeRoom && s != contract.ScopeEnv {
		return false, problem(contract.CodeScopeInvalid, "The field %q must be %q or %q.", "scope", contract.ScopeRoom, contract.ScopeEnv)
	}
	return s == contract.ScopeEnv, nil
}

// silenced refuses a send of an account muted in c's room: muted, with
// how long the mute lasts still.
func (inv *invocation) silenced(req request, c Connection, a Account) []byte {
	if c.AccountID == "" {
		return nil
	}
	now := inv.opt.Now()
	s, ok := a.Muted(c.Room, now)
	if !ok {
		return nil
	}
	p := &Problem{Code: contract.CodeMuted, Message: "A moderator muted you in this room until they lift it."}
	if !s.Until.IsZero() {
		left := s.Until.Sub(now)
		p.RetryAfterMs = max(left.Milliseconds(), 1)
		p.Message = "A moderator muted you in this room for " + minutesLeft(left) + " more."
	}
	return inv.fail(req, p)
}

// minutesLeft says a duration in whole minutes, rounded up.
func minutesLeft(d time.Duration) string {
	n := int((d + time.Minute - 1) / time.Minute)
	if n == 1 {
		return "1 minute"
	}
	return strconv.Itoa(n) + " minutes"
}

// shutOut answers a frame of a connection whose account is banned from
// its room or the environment: banned, then the connection is closed (a
// connection that got in while the ban was being made, or whose closing
// failed). A connection a kick (or a ban lifted since) ended, whose close
// was lost, is answered forbidden and closed the same way.
func (inv *invocation) shutOut(ctx context.Context, req request, c Connection, a Account) []byte {
	if c.AccountID == "" || (inv.id.Moderator && inv.action.Name == contract.ActionUnban) {
		return nil // a moderator banned by mistake lifts it from where it is
	}
	p := &Problem{Code: contract.CodeBanned, Message: "A moderator banned you from this room."}
	if _, ok := a.Banned(c.Room, inv.opt.Now()); ok {
		inv.log.Info("closing: the account is banned", "room", c.Room)
	} else if endedByModerator(c) {
		inv.log.Info("closing: a moderator ended the connection", "room", c.Room)
		p = &Problem{Code: contract.CodeForbidden, Message: "A moderator removed you from this room."}
	} else {
		return nil
	}
	inv.reply(ctx, inv.fail(req, p))
	inv.closeConnections(ctx, []string{inv.connID})
	return handled
}

// endedByModerator reports whether a kick or a ban ended the connection's
// sign-in (its record's mark, contract.ConnAuthEnded): no reauth renews it.
func endedByModerator(c Connection) bool {
	return !c.AuthExpiresAt.IsZero() && c.AuthExpiresAt.Unix() == contract.ConnAuthEnded
}

// errBanned: a $connect met a ban made while it ran.
var errBanned = errors.New("the account was banned while it connected")

// handled is a handler's answer when it has answered already.
var handled = []byte{}

// refuseBanned refuses a $connect of a banned account: 403, nothing written.
func (inv *invocation) refuseBanned(room string) events.APIGatewayProxyResponse {
	inv.log.Info("refused: the account is banned", "room", room)
	inv.m.refuse(AuthBanned)
	return events.APIGatewayProxyResponse{StatusCode: 403}
}
