// Connecting and leaving: $connect claims a name (the requested one, the
// one a resume token holds, or a guest name) and records the connection;
// $disconnect removes it, releases the name and tells the room.

package chat

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
)

// connectionStore holds the connections' records: one per live connection,
// put by its $connect; removalStore removes them.
type connectionStore interface {
	// PutConnection records a new connection, and the activity records
	// given (its joined, stamped) in the same transaction: a record exists
	// iff its joined is logged, whatever fails or is killed after. The
	// same transaction adds one to the room's count, for a signed-in
	// connection only when its account has no other record in the room.
	PutConnection(ctx context.Context, c Connection, activity ...Record) error
	// GetConnection returns a live connection, or ErrNotFound.
	GetConnection(ctx context.Context, id string) (Connection, error)
	// Rename changes a live connection's name from oldName to name and clears
	// its warning. It fails with ErrNotFound when there is no record, and
	// with ErrConflict when the name is no longer oldName (a concurrent
	// rename won). With a stamp (at not zero) the record also keeps oldName
	// and at as its pending rename (Connection.PendingName) until RenameTold.
	Rename(ctx context.Context, id, oldName, name string, at time.Time) error
	// RenameTold forgets the record's pending rename stamped at (not a
	// later one).
	RenameTold(ctx context.Context, id string, at time.Time) error
}

// connect records a connection; id is the signed-in account (zero with
// sign-in off), kept on the connection's record.
func (inv *invocation) connect(ctx context.Context, query map[string]string, id Identity) events.APIGatewayProxyResponse {
	now := inv.opt.Now()
	room, p := CleanRoom(query["room"])
	if p != nil {
		inv.log.Info("connect refused", "code", p.Code)
		return events.APIGatewayProxyResponse{StatusCode: 400, Body: string(encode(p))}
	}
	// A reconnect keeps the token it presents: if this $connect fails after
	// its claim took the name over, the client's retry with the same token
	// still finds the name.
	token := query["resume"]
	if !wellFormedToken(token) {
		token = newToken()
	}
	c := Connection{ID: inv.connID, Room: room, ConnectedAt: now,
		ExpiresAt: now.Add(inv.opt.ConnectionTTL), ResumeToken: token, AccountID: id.AccountID, Username: id.Username,
		AuthExpiresAt: id.ExpiresAt}
	if c.AccountID != "" {
		return inv.connectAccount(ctx, c, query["name"])
	}
	claim := Claim{Room: room, ConnID: c.ID, Token: c.ResumeToken, Resume: query["resume"], ExpiresAt: c.ExpiresAt}

	// The requested name if it is valid and free; otherwise a guest name
	// and a warning that says why.
	var previous []string
	var err error
	requested := query["name"]
	if requested != "" {
		if claim.Name, c.Warning = CleanName(requested); c.Warning == nil {
			previous, err = inv.store.ClaimName(ctx, claim)
			if errors.Is(err, ErrNameTaken) {
				c.Warning = problem(contract.CodeNameTaken, "The name %q is already taken in this room.", claim.Name)
			} else if err != nil {
				inv.log.Error("claim name", "error", err)
				return events.APIGatewayProxyResponse{StatusCode: 500}
			}
		}
	}
	if requested == "" || c.Warning != nil {
		if claim.Name, err = inv.claimGuestName(ctx, claim); err != nil {
			inv.log.Error("claim guest name", "error", err)
			return events.APIGatewayProxyResponse{StatusCode: 500}
		}
		if c.Warning != nil {
			c.Warning.Message += fmt.Sprintf(" You are %s.", claim.Name)
		}
	}
	c.Name = claim.Name
	// Logged with the record, in its transaction: a record exists iff its
	// joined is logged, and whatever removes it logs its left, gone or
	// replaced, so the log balances wherever the invocation is killed.
	joined := Record{Kind: KindJoined, Room: room, From: c.Name, ConnID: c.ID, TS: inv.opt.Now()} // after the claim
	inv.stamp(&joined)
	if err := inv.store.PutConnection(ctx, c, joined); err != nil {
		inv.log.Error("record connection", "error", err)
		// The put may have been applied all the same: a record left behind
		// would be listed as a member and later announced as gone. Its
		// removal logs its end.
		if _, _, err := inv.removeConnection(ctx, c.ID, End{Kind: KindLeft}); err != nil {
			inv.log.Warn("remove the connection's record", "error", err)
		}
		if len(previous) == 0 {
			// A name taken over from a previous connection stays claimed,
			// with this connection among its holders: the client retries
			// with its token and removes the previous ones, or the claim
			// is orphaned.
			inv.release(ctx, room, c.Name, c.ID)
		}
		return events.APIGatewayProxyResponse{StatusCode: 500}
	}
	replaced := inv.replaceAll(ctx, c, previous)
	inv.m.count(countAccepted, 1)
	// A crash before this only has the next resume try the removed
	// connections again.
	if err := inv.store.ForgetReplaced(ctx, room, c.Name, c.ID, replaced); err != nil {
		inv.log.Warn("forget replaced connections", "error", err)
	}
	inv.log.Info("connected", "room", room)
	// API Gateway does not deliver to a connection before $connect returns,
	// so the newcomer is left out; it asks for its state with hello.
	if rc, ok := inv.counted(ctx, room, 1); ok {
		inv.announce(ctx, room, rc, presenceFrame{Type: KindJoined, Room: room, Name: c.Name, TS: millis(joined.TS)},
			append([]string{c.ID}, previous...)...)
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}
}

// replaceAll removes the connections c's name was taken over from: the same
// person reconnected before the old connection's record was gone (or the
// old one expired), perhaps after reconnects that failed after their claim
// (a conflict, a crash). The old records go without a "left", the room
// sees one join, and the log records each replacement, with its delete.
// Its own $disconnect, running now, may have the record instead, and then
// finds its id among the claim's holders. It returns
// the connections it removed, for the claim to forget (ForgetReplaced) so
// that the next resume does not try them again; one not removed here stays
// a holder, and the next resume tries it.
func (inv *invocation) replaceAll(ctx context.Context, c Connection, previous []string) (removed []string) {
	for _, id := range previous {
		old, ok, err := inv.removeConnection(ctx, id, End{Kind: KindReplaced, By: c.ID})
		if err != nil {
			inv.log.Warn("remove replaced connection", "replaced", id, "error", err)
		}
		if !ok {
			continue
		}
		removed = append(removed, id)
		if Fold(old.Name) != Fold(c.Name) {
			// A rename of the old connection landed in between: the name
			// it took is nobody's now.
			inv.release(ctx, c.Room, old.Name, id)
		}
	}
	return removed
}

func (inv *invocation) claimGuestName(ctx context.Context, claim Claim) (string, error) {
	claim.Resume = ""
	var err error
	for range 8 {
		claim.Name = fmt.Sprintf("guest-%04d", mrand.IntN(10000))
		if _, err = inv.store.ClaimName(ctx, claim); !errors.Is(err, ErrNameTaken) {
			return claim.Name, err
		}
	}
	return "", fmt.Errorf("no free guest name after 8 tries: %w", err)
}

func (inv *invocation) disconnect(ctx context.Context) {
	own := withoutMargin(ctx) // the removal's own writes
	c, mine, err := inv.store.MarkRemoved(own, inv.connID, time.Time{}, End{Kind: KindLeft})
	if errors.Is(err, ErrNotFound) {
		return // already removed: after a 410 during a broadcast, or replaced by a resume
	}
	if err != nil {
		inv.log.Error("remove connection", "error", err)
		return
	}
	if c.AccountID != "" {
		inv.disconnectAccount(ctx, c, mine)
		return
	}
	// The room is told before the record is deleted, as with sign-in: a
	// removal that dies after its mark is finished, and told, by the next
	// one to find the mark. The delete logs the end (c.End).
	var told RoomCount
	defer func() {
		deleted, err := inv.finishRemoval(own, c, End{Kind: KindLeft})
		if err != nil {
			// Marked: the next removal to find it finishes the delete.
			inv.log.Error("remove connection", "error", err)
		}
		inv.confirm(ctx, c.Room, told, 1, deleted, c.ID)
	}()
	if !mine {
		// Another removal marked it and stopped: its name may have been
		// released and taken since, so the room gets the member list, not
		// a "left" that could hide a newcomer of the same name.
		g := inv.goneFrom(&c, inv.release(ctx, c.Room, c.Name, c.ID) == "", 0)
		_, told = inv.tellGone(ctx, c.Room, []gone{g}, map[string]bool{c.ID: true})
		return
	}
	if c.PendingName != "" {
		// A rename whose room was never told (its invocation died after
		// renaming the record): told first, with its own stamp, so the
		// left of the new name below takes her off every page.
		inv.tellRename(ctx, c, "")
	}
	// A reconnect with the resume token may have taken the name over before
	// the release: then the person has not left.
	now := inv.opt.Now() // before the release
	if resumedBy := inv.release(ctx, c.Room, c.Name, c.ID); resumedBy != "" {
		// This $disconnect removes the record, so the connection that took
		// the name finds it gone and records nothing: the delete records
		// the replacement. (Killed before it, the next removal logs the
		// mark's left: one end all the same.)
		inv.log.Info("disconnected; the name is already held by a new connection", "room", c.Room)
		c.End = End{Kind: KindReplaced, By: resumedBy}
		return
	}
	inv.m.count(countAccepted, 1)
	inv.log.Info("disconnected", "room", c.Room)
	if rc, ok := inv.counted(ctx, c.Room, 1); ok {
		told = inv.ahead(ctx, rc, []*Connection{&c}) // the record counts until its delete
		inv.announce(ctx, c.Room, told, presenceFrame{Type: KindLeft, Room: c.Room, Name: c.Name, TS: millis(now)}, c.ID)
	}
}

// wellFormedToken reports whether t looks like a token newToken made.
func wellFormedToken(t string) bool {
	b, err := base64.RawURLEncoding.DecodeString(t)
	return err == nil && len(b) == 16
}

// newToken returns a 128-bit random resume token.
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

var notConnected = &Problem{Code: contract.CodeNotConnected, Message: "This connection is no longer known to the server; please reconnect."}

// caller loads the caller's record, or returns the error frame to send;
// a is the caller's account as the charge read it (signed in). A signed-in
// connection without a record was let in by a $connect that refused it:
// the account's connects or devices say why.
func (inv *invocation) caller(ctx context.Context, req request, a Account) (Connection, []byte) {
	c, err := inv.store.GetConnection(ctx, inv.connID)
	if errors.Is(err, ErrNotFound) {
		if inv.id.AccountID != "" {
			if p := inv.connectsFull(a); p != nil {
				return c, inv.fail(req, p)
			}
			if p := inv.devicesFull(a); p != nil {
				return c, inv.fail(req, p)
			}
		}
		return c, inv.fail(req, notConnected)
	}
	if err != nil {
		return c, inv.internal(req, "load connection", err)
	}
	return c, nil
}
