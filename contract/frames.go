package contract

import (
	"maps"
	"slices"
)

// Frame kinds: the "type" of a frame the server sends. A message-log record
// has a kind too; gone and replaced are kinds of records only (lambda/chat).
const (
	FrameState      = "state"
	FramePong       = "pong"
	FrameJoined     = "joined"
	FrameLeft       = "left"
	FramePresence   = "presence"
	FrameMemberPage = "memberPage"
	FrameMembers    = "members"
	FrameRenamed    = "renamed"
	FramePublic     = "public"
	FramePrivate    = "private"
	FrameRemoved    = "removed"
	FrameEdited     = "edited"
	FrameHistory    = "historyPage"
	FrameError      = "error"
	FrameReauthed   = "reauthed"
	// FrameAccountDeleted answers deleteAccount.
	FrameAccountDeleted = "accountDeleted"
	FrameModerated      = "moderated"
	FrameTyping         = "typing"
)

// FrameKind is one entry of the frame-kind table.
type FrameKind struct {
	Kind string
	// When says when the server sends it (docs/protocol.md's table).
	When string
	// Fields are the frame's fields besides "type" (fields.go).
	Fields []Field
}

// Shapes' names.
const (
	ShapeLimits      = "Limits"
	ShapeWarning     = "Warning"
	ShapeLeftEntry   = "LeftEntry"
	ShapeMemberEntry = "MemberEntry"
	ShapeRemoval     = "Removal"
	ShapeMention     = "Mention"
)

// Fields several frames share.
var (
	room    = req("room", String, "the room")
	ts      = req("ts", Number, "when, in milliseconds since the Unix epoch, set by the server")
	count   = opt("count", Number, "the room's member count (*`cv`, the order of counts*)")
	cv      = opt("cv", Number, "the count's version: of two frames of the room, the greater `cv` carries the newer count")
	account = opt("account", String, "with sign-in: the account's stable id (*Names with sign-in*)")
	// username is the sender's, with sign-in: shown beside a display name that differs.
	username = opt("username", String, "with sign-in: the sender's username (*Names with sign-in*)")
	// frameRef is the ref of the frame that caused this one, in the sender's copy only.
	frameRef = opt("ref", String, "the `ref` of your frame that caused it; only in your own copy")
	// v orders a person's joined and left (presence.ts).
	v = opt("v", Number, "with sign-in: the version of the account's devices it was decided at (apply only a greater one)")

	// The fields of a removal (the removed frame and a history entry's removed).
	removedBy     = req("by", String, "who removed it: `sender` (its sender) or `moderator`")
	removedReason = opt("reason", String, "why, as the remover said it").chars(ReasonMax)
	removedAt     = req("at", Number, "when, in milliseconds since the Unix epoch, set by the server")
	// editedAt marks a message whose text was edited (a history entry, a state's).
	editedAt = opt("edited", Number, "the message's text was edited (`edit`): when it last was, in milliseconds since the Unix epoch; `message` is the text now")

	presenceFields = []Field{
		room,
		req("name", String, "who arrived or went"),
		ts,
		count.docf("the room's member count right after it"),
		cv, account, username.docf("with sign-in: the person's username, shown beside a name that differs"), v,
	}
	messageHead = []Field{
		req("id", String, "the message's ULID: sorting ids sorts messages by time"),
		ts, room,
		req("from", String, "the sender's name"),
	}
)

var frameKinds = []FrameKind{
	{FrameState, "the answer to `hello`: the room, its members, history and limits", []Field{
		room,
		req("you", String, "your name"),
		req("members", Strings, "the room's members, sorted case-insensitively; at most 100 (then `membersCursor` is set)"),
		count.docf("the room's exact member count, the caller included"),
		cv,
		opt("membersCursor", String, "set when `members` is only the first page: the `members` action reads on from it"),
		opt("usernames", Strings, "with sign-in: the username of each of `members`, at the same index: `\"\"` where a page shows none (the name is the username, or it is not known) (*Names with sign-in*); absent when every one is `\"\"`").or([]any{}),
		opt("history", ListOf(FrameOf(FramePublic)), "the room's recent public messages, oldest first").or([]any{}),
		opt("limits", ShapeOf(ShapeLimits), "the bounds of names, messages and recipients").or(defaultLimits),
		opt("resume", String, "a secret for this connection: presented on reconnect (`?resume=`), it takes the name back at once"),
		opt("warning", ShapeOf(ShapeWarning), "after a connect with an invalid or taken name: why you have another"),
		account.docf("with sign-in: your account"),
		username.docf("with sign-in: your username"),
		opt("private", ListOf(FrameOf(FramePrivate)), "your own private conversation of the room, oldest first (read a missing one as `[]`)"),
		opt("roles", Strings, "with sign-in: your roles, from your verified token (`moderator`: you may remove anyone's message, mute, kick and ban)").or([]any{}),
		opt("historyCursor", String, "set when older messages than `history` and `private` hold may exist: the `history` action reads them; absent when they reach the room's beginning"),
	}},
	{FramePong, "the answer to `ping`", []Field{
		ts,
		count.docf("the room's member count (keeps a big room's count fresh)"),
		cv,
	}},
	{FrameJoined, "someone arrived (rooms of up to 20)", presenceFields},
	{FrameLeft, "someone went (rooms of up to 20)", presenceFields},
	{FramePresence, "a big room's member count", []Field{
		room,
		req("count", Number, "the room's exact member count"),
		ts, cv,
	}},
	{FrameMemberPage, "the answer to `members`: one page of the member list", []Field{
		room,
		req("count", Number, "the room's exact member count"),
		cv,
		req("members", ListOf(ShapeOf(ShapeMemberEntry)), "this page's members, at most 500, in no particular order"),
		opt("cursor", String, "where the next page starts; absent on the last page"),
		frameRef,
	}},
	{FrameMembers, "the member list after stale connections were removed", []Field{
		room,
		req("members", Strings, "the members, read from the lagging room index"),
		opt("gone", Strings, "the names that went, at most 100").or([]any{}),
		opt("left", ListOf(ShapeOf(ShapeLeftEntry)), "each person who left, as a `left` frame would say it: apply each as a `left`"),
		opt("stayed", ListOf(ShapeOf(ShapeLeftEntry)), "with sign-in: each person still in the room on another device: apply each as a `joined`"),
		ts, count, cv,
	}},
	{FrameRenamed, "someone changed their name", []Field{
		room,
		req("oldName", String, "the name before"),
		req("name", String, "the name now"),
		ts, frameRef, account,
		username.docf("with sign-in: the person's username, shown beside a name that differs (absent when the server finished another's interrupted rename)"),
	}},
	{FramePublic, "a message to everyone in the room", append(slices.Clone(messageHead),
		req("message", String, "the text; empty when `removed` is set"),
		frameRef, account, username,
		opt("removed", ShapeOf(ShapeRemoval), "in a state's `history`: the message was removed (its text is not sent)"),
		editedAt,
		opt("mentions", ListOf(ShapeOf(ShapeMention)), "the people its `@name`s mention, as the server resolved them when it was sent: names held in the room then (*Mentions*); absent when none").items(MentionsMax),
	)},
	{FramePrivate, "a message to selected people (and the sender's copy)", append(slices.Clone(messageHead),
		req("to", Strings, "the recipients as the server knows their names"),
		req("message", String, "the text"),
		frameRef, account, username, editedAt,
	)},
	{FrameRemoved, "a public message was removed (`remove`): show the removal in its place", []Field{
		room,
		req("id", String, "the removed message's `id`"),
		removedBy, removedReason, removedAt,
		frameRef,
	}},
	{FrameEdited, "a message's sender edited its text (`edit`): show the new text in its place, marked edited; a private message's edit goes to its participants only", []Field{
		room,
		req("id", String, "the edited message's `id`"),
		req("message", String, "the text now").chars(MessageMax),
		req("edited", Number, "when it was edited, in milliseconds since the Unix epoch, set by the server"),
		opt("mentions", ListOf(ShapeOf(ShapeMention)), "a public message's: the people the new text's `@name`s mention, resolved as `sendPublic`'s are when the edit was made, replacing the marks before (*Mentions*); absent when none").items(MentionsMax),
		frameRef,
	}},
	{FrameHistory, "the answer to `history`: the page of the room's record before the cursor", []Field{
		room,
		opt("history", ListOf(FrameOf(FramePublic)), "the page's public messages, oldest first; a removed one as its removal").or([]any{}),
		opt("private", ListOf(FrameOf(FramePrivate)), "your own private messages of the page, oldest first").or([]any{}),
		opt("cursor", String, "where the next older page starts; absent when this page reaches the room's beginning"),
		frameRef,
	}},
	{FrameModerated, "a moderation act: the moderator's answer, and to the account's connections it concerns (muted, kicked, banned, lifted)", []Field{
		req("act", String, "`mute`, `unmute`, `kick`, `ban` or `unban`"),
		req("account", String, "the account acted on"),
		opt("room", String, "the room; absent for a ban of the whole environment"),
		opt("until", Number, "`mute`, `ban`: when it ends, in milliseconds since the Unix epoch; absent: until lifted"),
		opt("reason", String, "why, as the moderator said it").chars(ReasonMax),
		ts, frameRef,
	}},
	{FrameTyping, "someone in a room of up to 20 is typing (`typing`): show it until their message, or for 5 s", []Field{
		room,
		req("name", String, "who is typing, by the name they have now"),
		ts, account, username,
	}},
	{FrameReauthed, "the answer to `reauth`: the connection's sign-in now lasts until `expiresAt`", []Field{
		req("expiresAt", Number, "when the connection's sign-in ends, in milliseconds since the Unix epoch: reauth before"),
		frameRef,
	}},
	{FrameAccountDeleted, "the answer to `deleteAccount`: the account is deleted and its names released; every connection of it closes next (delete the sign-in account now)", []Field{
		frameRef,
	}},
	{FrameError, "the action of a frame of yours was refused; `code` says why", []Field{
		req("code", String, "why, stable, for programs (the error codes below)"),
		req("message", String, "why, a sentence for people; may change"),
		opt("action", String, "the action of the frame that caused it, when it had one"),
		opt("unknown", Strings, "`recipients_unknown`: each name nobody in the room has").items(RecipientsMax),
		opt("ref", String, "the `ref` of the frame that caused it"),
		opt("retryAfterMs", Number, "`rate_limited`: how long until a frame will be accepted again; `muted`: how long the mute lasts still"),
	}},
}

// FrameKinds returns the frame-kind table in a stable order.
func FrameKinds() []FrameKind { return slices.Clone(frameKinds) }

// defaultLimits is what a state frame without limits (an older server's)
// reads as: the limits of the actions' fields.
var defaultLimits = map[string]any{
	"nameMax": NameMax, "nameMaxBytes": NameMaxBytes, "messageMax": MessageMax, "recipientsMax": RecipientsMax,
}

var shapes = []Shape{
	{ShapeLimits, "the bounds of the actions' fields, as the server enforces them", []Field{
		req("nameMax", Number, "a name's most characters"),
		opt("nameMaxBytes", Number, "a name's most bytes of UTF-8").or(NameMaxBytes),
		req("messageMax", Number, "a message's most characters"),
		req("recipientsMax", Number, "a private message's most recipients"),
	}},
	{ShapeWarning, "a problem with the connect, told in the first state", []Field{
		req("code", String, "an error code"),
		req("message", String, "a sentence for people"),
	}},
	{ShapeLeftEntry, "a person a `members` frame names, stamped as a `left` (or `joined`) frame would be", []Field{
		req("name", String, "the name"),
		ts, account, username.docf("with sign-in: the person's username"), v,
	}},
	{ShapeMemberEntry, "a member of a `memberPage`", []Field{
		req("name", String, "the name"),
		opt("account", String, "the member's signed-in account, when the store's read has it (your own entry)"),
		opt("username", String, "with sign-in: the member's username where a page shows it beside the name (absent where the name is the username)"),
	}},
	{ShapeRemoval, "how a message was removed", []Field{removedBy, removedReason, removedAt}},
	{ShapeMention, "a person a public message mentions, as the server resolved the `@name`", []Field{
		req("name", String, "the name they held in the room when it was sent"),
		opt("account", String, "with sign-in: their account (highlight by it: a name can change hands)"),
	}},
}

// DefaultLimits returns what a state frame without limits reads as.
func DefaultLimits() map[string]any { return maps.Clone(defaultLimits) }

// Shapes returns the shapes in a stable order.
func Shapes() []Shape { return slices.Clone(shapes) }
