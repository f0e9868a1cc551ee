// Sanctions on an account: a mute in a room, a ban from a room or from the
// whole environment, each with an optional end, kept on the account's item
// (docs/design.md, "Moderation on the account item"), and a kick. Each act
// is one transaction with its activity record (who, whom, what, why, when,
// until); then the account's connections it concerns are told and closed.
// The functions here take an Act, so that a moderator's frame and an
// operator's event make the same change.

package chat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// SanctionKind is what a sanction does.
type SanctionKind string

// The sanctions.
const (
	// SanctionMute: the account's sends in the room are refused (muted).
	SanctionMute SanctionKind = contract.ActionMute
	// SanctionBan: the account's connects to the room (every room, for
	// the environment) are refused and its connections there closed.
	SanctionBan SanctionKind = contract.ActionBan
	// SanctionKick is no sanction kept on the account: a kick ends the
	// sign-in of the account's connections in the room (as a ban does)
	// and closes them, and the account may connect again.
	SanctionKick SanctionKind = contract.ActionKick
)

// Sanction is one sanction on an account's item.
type Sanction struct {
	Kind SanctionKind
	// Room is the room; "" (bans only) is the whole environment.
	Room string
	// Until is when it ends; zero: until lifted.
	Until time.Time
}

// Active reports whether the sanction holds at now.
func (s Sanction) Active(now time.Time) bool { return s.Until.IsZero() || now.Before(s.Until) }

// ErrUnknownAccount: the account has no item (it never connected here).
var ErrUnknownAccount = errors.New("unknown account")

// sanctionStore is what moderation acts on accounts need of storage.
type sanctionStore interface {
	// Sanction puts s on the account's item (replacing one of the same
	// kind and room) or, lift, takes it off, and adds activity to the
	// log, in one transaction; a ban also moves the account's device
	// version on, so that a $connect racing it reads the item again (and
	// the ban), and ends the sign-in of the account's connection records
	// it concerns (in the room; everywhere for the environment; never the
	// actor's own, activity.ConnID) in the same transaction, conditioned
	// on the devices it read: the room index then shows them ended, so a
	// broadcast, a private message and a member list skip them and close
	// them again, should the ban's own close be lost. A kick
	// (SanctionKick) puts nothing on the item but marks the same way, in
	// the room, without the device version's condition. It returns the item
	// after it (its devices: what to close), and fails with
	// ErrUnknownAccount when the account has no item. A transaction
	// applied but answered with an error is found applied (its token on
	// the item) and is this call's.
	Sanction(ctx context.Context, accountID string, s Sanction, lift bool, activity Record) (Account, error)
}

// KindModerated is a moderation act's activity record and frame.
const KindModerated Kind = contract.FrameModerated

// Operator is Actor's name for the operator (an event of the function's
// own, not a connection's frame).
const Operator = "operator"

// Actor is who acts: a moderator (its account, name, connection and
// room) or the operator (Operator set, nothing else).
type Actor struct {
	Operator bool
	Account  string
	Name     string
	ConnID   string
}

func (a Actor) name() string {
	if a.Operator {
		return Operator
	}
	return a.Name
}

// Act is one moderation act on an account.
type Act struct {
	By     Actor
	Target string // the account acted on
	// Room is the room; "" is the whole environment (ban, unban only).
	Room   string
	Until  time.Time // mute, ban: when it ends; zero: until lifted
	Reason string
}

// moderatedFrame tells a moderation act.
type moderatedFrame struct {
	Type    Kind   `json:"type"`
	Act     string `json:"act"`
	Account string `json:"account"`
	Room    string `json:"room,omitempty"`
	Until   int64  `json:"until,omitempty"`
	Reason  string `json:"reason,omitempty"`
	TS      int64  `json:"ts"`
	Ref     string `json:"ref,omitempty"`
}

// activity is the act's record: the actor as From (FromAccount), the
// account acted on as ToAccounts, in the room's activity (the
// environment's for an environment ban).
func (inv *invocation) activity(what string, act Act) Record {
	r := Record{Kind: KindModerated, Room: act.Room, From: act.By.name(), FromAccount: act.By.Account,
		ConnID: act.By.ConnID, ToAccounts: []string{act.Target}, Reason: act.Reason, Act: what, Until: act.Until}
	inv.stamp(&r)
	return r
}

// frame is what the act tells.
func (r Record) moderated() moderatedFrame {
	f := moderatedFrame{Type: KindModerated, Act: r.Act, Room: r.Room, Reason: r.Reason, TS: millis(r.TS)}
	if len(r.ToAccounts) > 0 {
		f.Account = r.ToAccounts[0]
	}
	if !r.Until.IsZero() {
		f.Until = millis(r.Until)
	}
	return f
}

// Ban bans act.Target from act.Room (the environment when ""), until
// act.Until (zero: until lifted), then tells and closes the account's
// connections there. It returns the act's record. A $connect racing it is
// refused (it reads the item again: the device version moved), or its
// connection is closed at its first frame. Should the closes be lost (the
// invocation killed after the ban, a DELETE throttled or answered 410),
// the ban's mark on the records closes them at the room's next message.
func (inv *invocation) Ban(ctx context.Context, act Act) (Record, error) {
	return inv.sanction(ctx, contract.ActionBan, Sanction{Kind: SanctionBan, Room: act.Room, Until: act.Until}, false, act)
}

// Unban lifts act.Target's ban from act.Room (the environment when "").
func (inv *invocation) Unban(ctx context.Context, act Act) (Record, error) {
	return inv.sanction(ctx, contract.ActionUnban, Sanction{Kind: SanctionBan, Room: act.Room}, true, act)
}

// Mute mutes act.Target in act.Room until act.Until.
func (inv *invocation) Mute(ctx context.Context, act Act) (Record, error) {
	return inv.sanction(ctx, contract.ActionMute, Sanction{Kind: SanctionMute, Room: act.Room, Until: act.Until}, false, act)
}

// Unmute lifts act.Target's mute in act.Room.
func (inv *invocation) Unmute(ctx context.Context, act Act) (Record, error) {
	return inv.sanction(ctx, contract.ActionUnmute, Sanction{Kind: SanctionMute, Room: act.Room}, true, act)
}

func (inv *invocation) sanction(ctx context.Context, what string, s Sanction, lift bool, act Act) (Record, error) {
	r := inv.activity(what, act)
	a, err := inv.store.Sanction(ctx, act.Target, s, lift, r)
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", what, err)
	}
	inv.log.Info("moderated", "act", what, "by", act.By.name(), "accountId", act.Target, "room", act.Room, "until", act.Until)
	inv.tellAndClose(ctx, a, act.Room, r, !lift && s.Kind != SanctionMute)
	return r, nil
}

// Kick closes act.Target's connections in act.Room (it may connect again
// unless banned). Its transaction logs the act and ends the sign-in of
// those connections' records, as a ban's does: should the closes be lost
// (the function killed after it, a DELETE failed), the connections are
// refused at their next frame and closed at the room's next message.
func (inv *invocation) Kick(ctx context.Context, act Act) (Record, error) {
	return inv.sanction(ctx, contract.ActionKick, Sanction{Kind: SanctionKick, Room: act.Room}, false, act)
}

// tellAndClose sends the act's frame to the account's connections in room
// (every one when room is "") and, with close, closes them: API Gateway
// then runs their $disconnect, which removes them. The caller's own
// connection is never closed by its own act.
func (inv *invocation) tellAndClose(ctx context.Context, a Account, room string, r Record, close bool) {
	var ids []string
	var targets []target
	frame := encode(r.moderated())
	for _, d := range a.Devices {
		if (room == "" || d.Room == room) && d.ConnID != inv.connID {
			ids = append(ids, d.ConnID)
			targets = append(targets, target{Member{ConnID: d.ConnID}, frame})
		}
	}
	inv.fanout(ctx, targets)
	if close {
		inv.closeConnections(ctx, ids)
	}
}

// Banned returns the account's ban that holds at now from room, or from
// the environment.
func (a Account) Banned(room string, now time.Time) (Sanction, bool) {
	for _, s := range []Sanction{a.Bans[room], a.Bans[""]} {
		if s.Kind != "" && s.Active(now) {
			return s, true
		}
	}
	return Sanction{}, false
}

// Muted returns the account's mute in room that holds at now.
func (a Account) Muted(room string, now time.Time) (Sanction, bool) {
	s := a.Mutes[room]
	return s, s.Kind != "" && s.Active(now)
}
