package chat

import (
	"context"
	"errors"
	"time"
)

// Poster delivers a frame to one connection: the management API's
// PostToConnection. It returns ErrGone when the connection no longer exists.
// Close closes one (DeleteConnection: API Gateway then runs its
// $disconnect), ErrGone when it no longer exists.
type Poster interface {
	Post(ctx context.Context, connID string, data []byte) error
	Close(ctx context.Context, connID string) error
}

// Verifier checks the ID token a client signs in with; lambda/auth
// implements it. Verify returns the account the token was issued to. A
// token it refuses fails with a *Refusal; any other error means it could
// not tell (the issuer's keys could not be fetched).
type Verifier interface {
	Verify(ctx context.Context, token string) (Identity, error)
}

// Identity is a signed-in account: what the $connect authorizer passes to
// the connection's events (contract.AuthContextAccountID, AuthContextUsername).
type Identity struct {
	AccountID string // the token's sub: stable for the account
	Username  string
	// Moderator: the verified token's cognito:groups has
	// contract.ModeratorsGroup (never a client's word).
	Moderator bool
	// ExpiresAt is the token's exp: the connection's sign-in ends then
	// (zero: not known, a connection older than the rule).
	ExpiresAt time.Time
	// IssuedAt is the token's iat: a token issued before the account
	// signed out everywhere (Account.SignedOutAt) is refused.
	IssuedAt time.Time
}

// Refusal is a Verifier's error for a token it refuses.
type Refusal struct{ Reason AuthReason }

func (r *Refusal) Error() string { return "sign-in refused: " + string(r.Reason) }

// ClaimMaxBytes bounds the token's sub and username, checked before either
// is logged, stored or used as a key: Cognito's sub is a 36-character UUID
// and its usernames are at most 128 characters; a longer claim (5,000
// characters made a DynamoDB key too long, an answer of 500 and a log line
// of 5 KB) is refused with AuthClaimTooLong.
const ClaimMaxBytes = 512

// AuthReason says why a connection was refused at the handshake: the value
// of the dimension contract.MetricDimensionReason of AuthFailures.
type AuthReason string

// Why a token, or a $connect, is refused.
const (
	AuthMissing       AuthReason = "missing"         // no token
	AuthMalformed     AuthReason = "malformed"       // not a JWS, or an ID token without sub, exp or a username
	AuthBadSignature  AuthReason = "bad_signature"   // not RS256 (alg none), no key of the pool's, or the signature does not match
	AuthWrongIssuer   AuthReason = "wrong_issuer"    // iss is not the pool
	AuthWrongAudience AuthReason = "wrong_audience"  // aud is not the app client
	AuthWrongTokenUse AuthReason = "wrong_token_use" // token_use is not "id" (an access token)
	AuthExpired       AuthReason = "expired"         // past exp
	AuthNotYetValid   AuthReason = "not_yet_valid"   // before nbf, or iat in the future
	AuthClaimTooLong  AuthReason = "claim_too_long"  // sub or the username is longer than ClaimMaxBytes
	// AuthBanned: the account is banned from the environment (the
	// authorizer) or from the room ($connect).
	AuthBanned AuthReason = "account_banned"
	// AuthOff: an authorizer event reached a function whose sign-in is off.
	AuthOff AuthReason = "auth_off"
	// AuthNoContext: sign-in is on, but a $connect came without the
	// authorizer's context (the authorizer is not attached to $connect).
	AuthNoContext AuthReason = "no_authorizer_context"
)

var (
	// ErrNotFound: no live record.
	ErrNotFound = errors.New("not found")
	// ErrNameTaken: another live connection holds the name.
	ErrNameTaken = errors.New("name taken")
	// ErrDevicesChanged: the account's devices changed since they were
	// read (AddDevice).
	ErrDevicesChanged = errors.New("the account's devices changed")
	// ErrGone: the connection is gone (410 from the management API).
	ErrGone = errors.New("connection gone")
	// ErrConflict: a conditional change lost to a concurrent one.
	ErrConflict = errors.New("conflict")
	// ErrBadCursor: a member list cursor the store did not make.
	ErrBadCursor = errors.New("bad cursor")
	// ErrHeld: a write met its item in other transactions at every try
	// and applied nothing (a charge: nothing was counted).
	ErrHeld = errors.New("the item was held by transactions")
)

// Connection is one client's record.
type Connection struct {
	ID          string
	Room        string
	Name        string
	ConnectedAt time.Time
	ExpiresAt   time.Time
	// ResumeToken lets the same person take their name back on reconnect
	// before the old connection's record is gone. It is a secret: it is only
	// ever sent to this connection, in its state frame.
	ResumeToken string
	// Warning is set when the requested name could not be given at connect.
	Warning *Problem
	// AccountID and Username are the signed-in account (the authorizer's
	// context); empty when sign-in is off.
	AccountID string
	Username  string
	// NameVersion is the version of the account's name the record carries
	// (Account.NameVersion); 0 without sign-in.
	NameVersion int64
	// AuthExpiresAt is when the connection's sign-in ends: its token's exp
	// at $connect, later that of its latest reauth (zero without sign-in).
	AuthExpiresAt time.Time
	// AuthIssuedAt is the iat of the token of its latest reauth (zero
	// before one): a reauth after a sign-out everywhere signs the
	// connection in again (stillSignedIn).
	AuthIssuedAt time.Time
	// Mark is the token of the removal that marked the record (MarkRemoved),
	// and End how that removal said the record ends.
	Mark string
	End  End
	// MarkedAt is when it was marked (zero: marked before this was kept):
	// after the record took its name, before the removal released it or
	// told the room, so a members frame stamps the person's leaving by it.
	MarkedAt time.Time
	// Shard is the store's: the part of the room's count that counts the
	// record, which its delete takes it from (DeleteMarked).
	Shard int
	// Person is the store's: the record of a signed-in connection counted
	// by its person, once however many of the account's records are in
	// the room (docs/design.md, The count counts people): its put adds one
	// only when it is the account's first record there, its delete takes
	// one only when it is the last. False without sign-in, and for a
	// record from before, which counts itself.
	Person bool
	// PersonHere, for PutConnection, says the account was read with
	// another device in the room: the put first tries not counting the
	// person again (a guess: the transaction's condition decides).
	PersonHere bool
	// PendingName and PendingAt, without sign-in, are the old name and the
	// stamp of a rename of the record whose room may not have been told
	// (its invocation died after the Rename); "" when none.
	PendingName string
	PendingAt   time.Time
}

// End is how a connection's record ends, as the activity log records it:
// KindLeft (its $disconnect, or a $connect that failed after the put),
// KindGone (removed after a 410) or KindReplaced (its name taken over by
// By). The removal that marks the record writes it on the mark, so that
// whoever finishes the removal logs the same end.
type End struct {
	Kind Kind
	By   string // KindReplaced: the connection that took the name over
}

// Account is a signed-in person's item: the account's name and its devices.
type Account struct {
	ID   string
	Name string // "" before its first connection named it
	// NameVersion is one more with every rename.
	NameVersion int64
	// PendingName and PendingClaim are the old name of a rename not
	// finished yet (some connection may still carry it) and the claim by
	// which the account held it; "" when none.
	PendingName, PendingClaim string
	// DeviceVersion is one more with every change of the devices: it
	// orders the account's joined and left frames (v).
	DeviceVersion int64
	Devices       []Device
	// UsernameReserved: the account's username is reserved for it as a
	// name (ReserveUsername, MarkUsernameReserved).
	UsernameReserved bool
	// SignedOutAt is when the account last signed out everywhere: tokens
	// issued until then admit no connection and renew none.
	SignedOutAt time.Time
	// DeletingAt is the sign-out an account's deletion made (its first
	// step; the tombstone replaces the item): zero when none did.
	DeletingAt time.Time
	// DeletingConns are the connections whose own deleteAccount signed
	// the account out (recorded by that sign-out's write, kept on the
	// tombstone; an operator's deletion adds none): while the deletion
	// may run, a frame of one of them is left to it (it answers that
	// connection accountDeleted, then closes it); any other connection of
	// the account is told signed_out and closed.
	DeletingConns []string
	// Connects are the times of the account's latest counted $connects
	// (at most Options.ConnectLimit.Limit, oldest first).
	Connects []time.Time
	// Rooms are the rooms the account has connected to (AddDevice adds
	// each), where its private-history copies and its messages are: an
	// account's deletion forgets its records there.
	Rooms []string
	// Deleted is when the account was deleted (deleteaccount.go): its
	// item is then a tombstone that admits no token, kept until every
	// token issued before has expired; zero for a live account.
	Deleted time.Time
	// DeletedDevices are, on a tombstone, the connections whose devices
	// were on the item its transaction replaced (a $connect that added
	// its device during the deletion, or a device its leave missed): a
	// run again and the second forget remove and close them.
	DeletedDevices []string
	// Known: the account has an item (it connected here at least once).
	Known bool
	// Bans (by room; "" the whole environment) and Mutes (by room) are
	// the account's sanctions (sanction.go), ended or not.
	Bans, Mutes map[string]Sanction
}

// Device is one connection of an account, in a room.
type Device struct {
	ConnID    string
	Room      string
	ExpiresAt time.Time
	// Leaving is set while its record is being removed.
	Leaving bool
	// Told is set once its $connect has told the room the person is there,
	// or found another device told (ToldDevice): a device not told is
	// still connecting, or its $connect died before telling the room.
	Told bool
}

// In lists the account's devices in room that are not leaving, but the
// connection except, live at now: the person is still there with them.
func (a Account) In(room, except string, now time.Time) []Device {
	var out []Device
	for _, d := range a.Devices {
		if d.Room == room && d.ConnID != except && !d.Leaving && !d.ExpiresAt.Before(now) {
			out = append(out, d)
		}
	}
	return out
}

// NoClaim is the pending claim of a rename away from a name the account did
// not hold by any claim: nothing to release.
const NoClaim = "-"

// RenamePending is ClaimAccountName's error for a name whose owner renamed
// away from it without finishing: the rename is to be finished first.
type RenamePending struct{ AccountID string }

func (e *RenamePending) Error() string {
	return "the name's owner has a rename to finish: " + e.AccountID
}

// Claim asks for a name.
type Claim struct {
	Room, Name, ConnID string
	// Token is stored with the claim, so a later reconnect can present it.
	Token string
	// Resume, when not empty, is a token presented by the client: a claim by
	// another connection carrying the same token is taken over.
	Resume    string
	ExpiresAt time.Time
}

// Member is a live connection in a room.
type Member struct {
	ConnID string
	Name   string
	// AccountID is the signed-in account, where the store's read has it
	// (the room index does not project it).
	AccountID string
	// Username is the signed-in account's username (the room index
	// projects it); empty without sign-in.
	Username string
	// AuthExpiresAt is when its sign-in ends, as the room index has it
	// (Members, MembersPage; eventually consistent: a reauth or a ban may
	// not be there yet); a ban's mark (contract.ConnAuthEnded) is long
	// past; zero without sign-in or where the read does not have it.
	AuthExpiresAt time.Time
}

// RoomCount is a room's member count and presence credit.
type RoomCount struct {
	Count  int
	Credit int
	// Version grows with every change of the count, and only then: of two
	// reads, the one with the greater version read the newer count, and
	// two that read the same version read the same count.
	Version int64
	// ahead: Count is the count as it will be once the records this
	// invocation marked are deleted (after), not the count read. told:
	// this count was told to the room ahead of deletes (confirm).
	// unsure: the reads of ahead failed for some record.
	ahead, told, unsure bool
}

// RateLimit allows at most Limit actions in any Window.
type RateLimit struct {
	Limit  int
	Window time.Duration
}

// RateLimited is the error of an action over its RateLimit.
type RateLimited struct {
	// RetryAfter is when the oldest counted action leaves the window.
	RetryAfter time.Duration
	// At is the time RetryAfter counts from (the store's reading of the
	// clock); zero when unknown.
	At time.Time
}

func (e *RateLimited) Error() string { return "rate limited: retry after " + e.RetryAfter.String() }

// Record is one entry of the message log.
type Record struct {
	Kind    Kind
	ID      string // ULID: unique and time-ordered
	TS      time.Time
	Room    string
	From    string   // sender (messages) or subject (activity)
	To      []string // private recipients
	OldName string   // renamed
	Message string
	ConnID  string // the connection the activity is about
	// ReplacedBy and Reason (replaced): the connection that took ConnID's
	// name over, and why (ReasonResumed, ReasonExpired).
	ReplacedBy string
	Reason     string
	// ExpiresAt is when the log may drop the record (its retention).
	ExpiresAt time.Time
	// FromAccount and ToAccounts are the sender's (subject's) and the
	// recipients' accounts, with sign-in on.
	FromAccount string
	// FromUsername is the sender's username with sign-in (public and
	// private messages only): pages show it beside a name that differs.
	FromUsername string
	ToAccounts   []string
	// Removed (a message) is how it was removed, nil while it stands; its
	// Message is then empty in what History returns.
	Removed *Removal
	// Act and Until (a moderated record): the act (mute, unmute, kick,
	// ban, unban) and when a mute or ban ends (zero: until lifted).
	Act   string
	Until time.Time
	// MessageID (a removed record: the activity) is the message removed.
	MessageID string
	// Edited (a message) is when its text was last edited (edit.go), zero
	// if never; Message is the text now. EditToken is the store's mark of
	// the last edit, which the next is conditioned on. Previous (an edited
	// activity record) is the text before the edit.
	Edited    time.Time
	EditToken string
	Previous  string
	// Mentions (public messages) are the people its `@name`s mention, as
	// resolved when it was sent or last edited (mention.go); an edited
	// activity record's, its new text's.
	Mentions []Mention
	// Readers (private messages) are the Reader keys of the sender and the
	// recipients: the store keeps a copy per reader, which PrivateHistory
	// gives back to that reader only.
	Readers []string
}

// Removal is how a message was removed (contract.ShapeRemoval).
type Removal struct {
	By        string // RemovedBySender or RemovedByModerator
	ByName    string // the remover's name then
	ByAccount string // the remover's account, with sign-in
	Reason    string
	At        time.Time
}

// Who removed a message (Removal.By, the removed frame's by).
const (
	RemovedBySender    = "sender"
	RemovedByModerator = "moderator"
	// RemovedByOperator: an operator's removeMessage (operator.go).
	RemovedByOperator = "operator"
)
