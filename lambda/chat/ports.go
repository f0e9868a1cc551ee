package chat

import (
	"context"
	"errors"
	"time"
)

// Store is everything the chat needs from storage. The DynamoDB adapter in
// lambda/dynamo implements it.
type Store interface {
	// ClaimName makes c.Name c.ID's name in c.Room. It fails with ErrNameTaken
	// when another live connection holds the name (compared by Fold) and the
	// claim does not present that connection's resume token. On success it
	// returns the connections the name was taken over from with that token
	// (or from an expired holder), if any: the same person's previous
	// connection, and every reconnect of it since that failed after its
	// claim, until ForgetReplaced. Each is to be removed.
	ClaimName(ctx context.Context, c Claim) (previousOwners []string, err error)
	// ForgetReplaced tells the claim of name that connID, its holder, has
	// removed the connections replaced (ClaimName's previous owners): a
	// later claim no longer returns them. It does nothing once another
	// connection holds the claim.
	ForgetReplaced(ctx context.Context, room, name, connID string, replaced []string) error
	// ReleaseName gives up a claim, only if connID still holds it. When a
	// resume took the name over from connID first, it returns the
	// connection that did; a claim already gone, or taken by someone else
	// after a release, returns "".
	ReleaseName(ctx context.Context, room, name, connID string) (resumedBy string, err error)

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
	// MarkRemoved is the first step of a connection's removal: it marks the
	// record removed, with end (how the record ends: left, gone or replaced),
	// only when it connected before connectedBefore (unless zero: a
	// connection whose $connect is still running answers 410 as well, and
	// must be kept), and returns it with its Mark and End; mine is true when
	// this call marked it, false when another removal had (this call may
	// then finish it, with the end that removal's mark says). It fails with
	// ErrNotFound when there is no live record to mark (none, or spared).
	MarkRemoved(ctx context.Context, id string, connectedBefore time.Time, end End) (c Connection, mine bool, err error)
	// DeleteMarked is the second step: one transaction deletes the record
	// marked c.Mark, takes it from its room's count (one counted by its
	// person only when it is the account's last record there), (signed in) its device
	// from the account's item, and adds end, the record's end, to the
	// message log: whoever deletes the record logs its end, once. It
	// returns false when the record was no longer there with that mark
	// (another removal deleted it, counted it and logged its end).
	DeleteMarked(ctx context.Context, c Connection, end Record) (bool, error)
	// StillCounted reports whether deleting the marked record c will still
	// take one from its room's count: it is still there (not deleted yet)
	// and, counted by its person, the account's last record in the room.
	// One consistent GetItem (of the record, or of the account's item).
	StillCounted(ctx context.Context, c Connection) (bool, error)
	// Members lists the live connections of a room: one Query of the room
	// index, cost proportional to the room.
	Members(ctx context.Context, room string) ([]Member, error)
	// Owner returns the connection holding a name's claim in a room, with the
	// name as its holder spelled it; ok is false when nobody holds it. The
	// holder may be a reconnect still in $connect, or (after a release that
	// failed) a connection now called something else.
	Owner(ctx context.Context, room, name string) (m Member, ok bool, err error)

	// CountMembers adds credit to a room's presence credit and returns it
	// with the room's member count (docs/design.md, Presence in big rooms).
	// The count is exact, unlike the room index: it moves in the same
	// transaction as the record it counts (PutConnection, DeleteConnection,
	// RemoveStale).
	CountMembers(ctx context.Context, room string, credit int, expiresAt time.Time) (RoomCount, error)
	// SpendCredit takes cost from a room's presence credit if it has that
	// much; false when it has not (another announcement spent it first).
	SpendCredit(ctx context.Context, room string, cost int) (bool, error)
	// ReadCount returns a room's member count and its version (no credit).
	ReadCount(ctx context.Context, room string) (RoomCount, error)
	// MembersPage lists at most limit live connections of a room, from the
	// cursor a previous page returned ("" for the first page); the cursor it
	// returns is "" after the last page. A cursor it cannot read fails with
	// ErrBadCursor. One Query of the room index, bounded by limit.
	MembersPage(ctx context.Context, room, cursor string, limit int) (members []Member, next string, err error)

	// Accounts (sign-in on): a name belongs to one account across the
	// environment; names are compared by NameKey.

	// Account reads the account's item (one consistent GetItem): its name
	// ("" before it has one), its devices and their versions.
	Account(ctx context.Context, accountID string) (Account, error)
	// ClaimAccountName makes name accountID's, signed in as username. It
	// fails with ErrNameTaken when another account holds it (online or
	// not) or it is reserved for another username, and with a
	// *RenamePending when the account holding it renamed away from it and
	// has not finished (its connections may still show it). A name
	// reserved for username is the account's whoever held it (a deleted
	// account of that username). Claiming a name the account holds again
	// only updates its spelling. It returns the claim: a token that
	// changes with every claim of the name, which ReleaseAccountName is
	// given back.
	ClaimAccountName(ctx context.Context, accountID, username, name string) (claim string, err error)
	// ReserveUsername reserves name, the username as a name, for the
	// username (docs/design.md, "Usernames are reserved at sign-up"): only
	// an account signed in with it may claim the name or a look-alike, and
	// no rename releases it. It passes again for the same username (a
	// retry, a recreated account) and, with accountID, when that account
	// holds the name already; it fails with ErrNameTaken when another
	// account holds the name or another username has it reserved.
	ReserveUsername(ctx context.Context, username, name, accountID string) error
	// MarkUsernameReserved records on the account's item that its
	// username is reserved (Account.UsernameReserved).
	MarkUsernameReserved(ctx context.Context, accountID string) error
	// SetAccountName changes the account's name from old ("" for none) to
	// name and its name version by one, and returns the item after it. A
	// rename also keeps the old name and oldClaim as the account's pending
	// rename, until FinishedRename (oldClaim "": NoClaim, nothing to
	// release). It
	// fails with ErrConflict when the name is no longer old, or another
	// rename is pending.
	SetAccountName(ctx context.Context, accountID, old, name, oldClaim string) (Account, error)
	// FinishedRename forgets the account's pending rename of claim (not a
	// later one's).
	FinishedRename(ctx context.Context, accountID, claim string) error
	// ReleaseAccountName gives up accountID's hold on name, only if it has
	// it by that claim: a claim made again since (the account renamed back
	// to the name meanwhile) stays.
	ReleaseAccountName(ctx context.Context, accountID, name, claim string) error
	// AccountNameClaim returns the claim by which accountID holds name, ""
	// when it does not hold it. One consistent GetItem.
	AccountNameClaim(ctx context.Context, accountID, name string) (string, error)
	// NameOwner returns the account that holds name, "" when nobody does.
	NameOwner(ctx context.Context, name string) (accountID string, err error)
	// RenameConnection gives a signed-in connection's record the account's
	// name of version nv, only if its record carries an older version; it
	// returns the name the record had and whether this call renamed it
	// (false: gone, or already of version nv or newer).
	RenameConnection(ctx context.Context, id, name string, nv int64) (oldName string, renamed bool, err error)
	// AddDevice records a connection as one of the account's devices, in
	// its room, and returns the account's item after it (its device
	// version one more). It adds it only while the device version is
	// still atVersion (ErrDevicesChanged otherwise), so that a cap counted
	// on the item read at that version holds however many connects race;
	// a negative atVersion adds it whatever the version.
	AddDevice(ctx context.Context, accountID string, d Device, atVersion int64) (Account, error)
	// LeaveDevice marks the account's device leaving and returns the
	// account's item after it (its device version one more; the device is
	// deleted with its record, DeleteMarked).
	LeaveDevice(ctx context.Context, accountID, connID string) (Account, error)
	// ForgetGoneDevice removes the account's device when its connection's
	// record is gone (removed by a $disconnect that overtook its
	// $connect): true when it did.
	ForgetGoneDevice(ctx context.Context, accountID, connID string) (bool, error)
	// ToldDevice marks the account's device told: its $connect has told
	// the room the person is there (or found another device told). Nothing
	// when the device is gone.
	ToldDevice(ctx context.Context, accountID, connID string) error

	// Rate limits, kept in the table so they hold across instances.

	// ChargeConnection draws units (an action's contract.Action.Cost, at
	// most l.Limit) from connection id's budget l and returns the
	// connection's record, as GetConnection does (ErrNotFound). Over the
	// budget it fails with a *RateLimited and draws nothing; ErrHeld when
	// the item stayed in transactions (nothing drawn).
	ChargeConnection(ctx context.Context, id string, l RateLimit, units int) (Connection, error)
	// ChargeAccount draws units from the account's budget l and returns
	// the account's item, read by the same request; over the budget it
	// fails with a *RateLimited and draws nothing.
	ChargeAccount(ctx context.Context, accountID string, l RateLimit, units int) (Account, error)
	// ChargeConnect counts one $connect of the account against l (its own
	// log, apart from the budget) and returns the account's item, as
	// Account does; over the limit it fails with a *RateLimited and
	// counts nothing.
	ChargeConnect(ctx context.Context, accountID string, l RateLimit) (Account, error)

	// Append adds a record to the message log.
	Append(ctx context.Context, r Record) error
	// History returns a room's most recent public messages, oldest first.
	History(ctx context.Context, room string, limit int) ([]Record, error)
	// PrivateHistory returns the most recent private messages of a room that
	// reader (a Reader key: Record.Readers) took part in, oldest first. It
	// reads only that reader's copies: nobody else's conversation is touched.
	PrivateHistory(ctx context.Context, room, reader string, limit int) ([]Record, error)
}

// Poster delivers a frame to one connection: the management API's
// PostToConnection. It returns ErrGone when the connection no longer exists.
type Poster interface {
	Post(ctx context.Context, connID string, data []byte) error
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
	// Connects are the times of the account's latest counted $connects
	// (at most Options.ConnectLimit.Limit, oldest first).
	Connects []time.Time
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
	// AccountID is the signed-in account, where the store's read has it.
	AccountID string
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
	// Readers (private messages) are the Reader keys of the sender and the
	// recipients: the store keeps a copy per reader, which PrivateHistory
	// gives back to that reader only.
	Readers []string
}
