package contract

//go:generate go run ../cmd/protocolgen -root ..

import (
	"slices"
	"strconv"
)

// The wire protocol's one definition (Definition): the actions a client sends
// with their fields, the error codes the server answers with, and the frames
// it sends with their fields (frames.go). The handler dispatches on Actions;
// cmd/protocolgen writes the page's frontend/src/protocol.gen.ts, the Go frame
// types of protocol_gen.go (the load tool's) and the tables of
// docs/protocol.md from it; tests fail when any of them differs.
// docs/design.md ("Adding an action") says when an action gets its own route.

// Actions a client sends ("action" of a client frame). The custom-route ones
// are route keys too (routes.go); the rest go through $default.
const (
	ActionHello       = "hello"
	ActionPing        = "ping"
	ActionMembers     = "members"
	ActionSetName     = RouteSetName
	ActionSendPublic  = RouteSendPublic
	ActionSendPrivate = RouteSendPrivate
	ActionRemove      = "remove"
	ActionEdit        = "edit"
	ActionHistory     = "history"
	// The moderation acts on an account (moderators only; docs/design.md,
	// "Moderation on the account item").
	ActionMute   = "mute"
	ActionUnmute = "unmute"
	ActionKick   = "kick"
	ActionBan    = "ban"
	ActionUnban  = "unban"
	ActionTyping = "typing"
	// ActionReauth, ActionSignOutEverywhere and ActionDeleteAccount exist
	// with sign-in only.
	ActionReauth            = "reauth"
	ActionSignOutEverywhere = "signOutEverywhere"
	ActionDeleteAccount     = "deleteAccount"
)

// Action is one entry of the action table.
type Action struct {
	// Name is the frame's "action".
	Name string
	// Route is the route key API Gateway picks for it: the action's own
	// custom route, or RouteDefault.
	Route string
	// Doc is what the action does, one line (docs/protocol.md's table).
	Doc string
	// Fields are the frame's fields besides "action" (fields.go).
	Fields []Field
	// Cost is what the action draws from the person's budget, in units (a
	// message is one; *Rate limits* in docs/protocol.md): about the
	// DynamoDB reads and writes and the bytes it costs (a ping reads the
	// room's count for its pong).
	Cost int
	// Per, when set, makes the price grow with a list the frame carries
	// (Price): a private message costs more the more people it names.
	Per PerItems
}

// PerItems prices a frame by one of its list fields: one unit more for
// every Every items of Field.
type PerItems struct {
	// Field names the action's list field counted (its distinct, valid
	// items: what the handler resolves one by one).
	Field string
	// Every is how many items add a unit; 0 leaves the price at Cost.
	Every int
}

// Price is what a frame of the action whose Per list holds items items
// draws from the budget: Cost, and one unit more for every Per.Every items.
// A sendPrivate is 1 + recipients/2 (docs/design.md, *Rate limits*, has the
// measured requests it follows: 4 for the message, 3 per recipient).
func (a Action) Price(items int) int {
	if a.Per.Every <= 0 {
		return a.Cost
	}
	return a.Cost + max(items, 0)/a.Per.Every
}

// PrivatePer is sendPrivate's Per.Every: one unit more for every two
// recipients, so that no private message buys more DynamoDB requests per
// unit than one to a single person (4 + 3n requests for 1 + n/2 units).
const PrivatePer = 2

// CustomRoute reports whether the action has a route of its own.
func (a Action) CustomRoute() bool { return a.Route != RouteDefault }

// The bounds of the actions' fields (docs/protocol.md, "Limits"); the
// handler checks them and a state frame's limits tell them.
const (
	NameMax       = 32
	NameMaxBytes  = 64 // in UTF-8: bounds member lists (1,000 names ≤ 88 KB of JSON)
	MessageMax    = 2000
	RecipientsMax = 20
	RefMax        = 64
	ReasonMax     = 200
	// EditWindowMs is how long after sending its sender may edit a message
	// (edit): 15 minutes.
	EditWindowMs = 15 * 60 * 1000
	// MuteMinutesMax bounds a mute (7 days), BanMinutesMax a ban with an
	// expiry (a year); a ban without one lasts until lifted.
	MuteMinutesMax = 7 * 24 * 60
	BanMinutesMax  = 365 * 24 * 60
	// TypingMax is the largest room told who is typing (typing): a keystroke
	// burst costs at most TypingMax-1 deliveries.
	TypingMax = 20
	// TypingEveryMs is how often a client may say it is typing while it
	// types; a page shows a typing frame for TypingShownMs unless the
	// person's message or another typing comes first.
	TypingEveryMs = 3000
	TypingShownMs = 5000
	// MentionsMax bounds the people a public message marks as mentioned
	// (`@name` in its text, resolved by the server); MentionLookupsMax the
	// names the server looks up for them, each at most two GetItems:
	// resolving a message's mentions reads at most 2*MentionLookupsMax
	// items, however many `@` it holds (docs/design.md, Mentions).
	MentionsMax       = 5
	MentionLookupsMax = 8
	// MentionWordsMax is how many words after an `@` are tried as a name
	// (names may hold spaces): `@Mary Ann hi` is looked up as "Mary Ann
	// hi", then "Mary Ann", then "Mary", stopping at the first name held in
	// the room, so the longest name held wins.
	MentionWordsMax = 3
	// TokenMax bounds reauth's token: Cognito's ID tokens are about
	// 1,000 characters; API Gateway's frames are at most 32 KB.
	TokenMax = 8192
)

// ref is every client frame's optional correlation field.
var ref = opt("ref", String, "any string of yours: copied into the error this frame causes and into your own copy of the frame it causes").chars(RefMax)

// The moderation acts' fields.
var (
	target    = req("account", String, "the account acted on: its `account`, as a member entry or a frame of its gives it")
	scope     = opt("scope", String, "`room` (your room; the default) or `env` (the whole environment)").or(ScopeRoom)
	actReason = opt("reason", String, "why, kept in the record and told to the account (*Limits*)").chars(ReasonMax)
)

// minutes is a moderation act's duration field.
func minutes(doc string, required bool) Field {
	if required {
		return req("minutes", Number, doc)
	}
	return opt("minutes", Number, doc)
}

// A ban's scope: the moderator's room, or the whole environment.
const (
	ScopeRoom = "room"
	ScopeEnv  = "env"
)

var actions = []Action{
	{Name: ActionHello, Cost: 3, Route: RouteDefault, Doc: "ask for the state: answered with a `state` frame",
		Fields: []Field{ref}},
	{Name: ActionPing, Cost: 1, Route: RouteDefault, Doc: "keep-alive: answered with a `pong` frame",
		Fields: []Field{ref}},
	{Name: ActionMembers, Cost: 1, Route: RouteDefault, Doc: "read the member list a page at a time: answered with `memberPage` frames",
		Fields: []Field{
			opt("cursor", String, "where to read on: the `cursor` of the previous `memberPage` or a `state`'s `membersCursor`; absent for the first page"),
			ref,
		}},
	{Name: ActionSetName, Cost: 1, Route: RouteSetName, Doc: "change your name: the room is sent `renamed`",
		Fields: []Field{
			req("name", String, "the new name (*Limits*)").chars(NameMax).bytes(NameMaxBytes),
			ref,
		}},
	{Name: ActionSendPublic, Cost: 1, Route: RouteSendPublic, Doc: "message everyone in your room: the room is sent `public`",
		Fields: []Field{
			req("message", String, "the text (*Limits*)").chars(MessageMax),
			ref,
		}},
	{Name: ActionSendPrivate, Cost: 1, Per: PerItems{Field: "to", Every: PrivatePer}, Route: RouteSendPrivate,
		Doc: "message selected people: they and you are sent `private`",
		Fields: []Field{
			req("to", Strings, "the recipients' names, in your room (*Limits*)").items(RecipientsMax),
			req("message", String, "the text (*Limits*)").chars(MessageMax),
			ref,
		}},
	{Name: ActionRemove, Cost: 3, Route: RouteDefault, Doc: "remove a public message, your own or (a moderator) anyone's: the room is sent `removed`",
		Fields: []Field{
			req("id", String, "the message's `id`, as its `public` frame or the state's `history` gives it"),
			opt("reason", String, "why, shown to the room (*Limits*)").chars(ReasonMax),
			ref,
		}},
	{Name: ActionEdit, Cost: 3, Route: RouteDefault, Doc: "change the text of a message of yours, public or private, within 15 minutes of sending it: its readers are sent `edited`",
		Fields: []Field{
			req("id", String, "the message's `id`, as its `public` or `private` frame or the state's `history` or `private` gives it"),
			req("message", String, "the new text (*Limits*, as a message's)").chars(MessageMax),
			ref,
		}},
	{Name: ActionHistory, Cost: 3, Route: RouteDefault, Doc: "read the room's record further back, a page at a time: answered with a `historyPage` frame",
		Fields: []Field{
			opt("cursor", String, "where to read on: a state's `historyCursor` or the `cursor` of the previous `historyPage`; absent for the newest page"),
			ref,
		}},
	{Name: ActionMute, Cost: 3, Route: RouteDefault, Doc: "a moderator: mute an account in your room for `minutes`: its sends there are refused with `muted`; answered with `moderated`",
		Fields: []Field{target, minutes("how long, 1 to "+strconv.Itoa(MuteMinutesMax), true), actReason, ref}},
	{Name: ActionUnmute, Cost: 3, Route: RouteDefault, Doc: "a moderator: lift an account's mute in your room; answered with `moderated`",
		Fields: []Field{target, actReason, ref}},
	{Name: ActionKick, Cost: 3, Route: RouteDefault, Doc: "a moderator: close an account's connections in your room (it may come back unless banned); answered with `moderated`",
		Fields: []Field{target, actReason, ref}},
	{Name: ActionBan, Cost: 3, Route: RouteDefault, Doc: "a moderator: ban an account from your room or the environment (its connections there close; its connects are refused); answered with `moderated`",
		Fields: []Field{target, scope, minutes("how long, 1 to "+strconv.Itoa(BanMinutesMax)+"; absent: until lifted", false), actReason, ref}},
	{Name: ActionUnban, Cost: 3, Route: RouteDefault, Doc: "a moderator: lift an account's ban from your room or the environment; answered with `moderated`",
		Fields: []Field{target, scope, actReason, ref}},
	{Name: ActionTyping, Cost: 1, Route: RouteDefault, Doc: "say you are typing (at most one every 3 s): the others in a room of up to 20 are sent `typing`; not stored, no answer",
		Fields: []Field{ref}},
	{Name: ActionReauth, Cost: 2, Route: RouteDefault, Doc: "with sign-in: renew the connection's sign-in with a fresh ID token of the same account: answered with `reauthed`",
		Fields: []Field{
			req("token", String, "a fresh ID token of the account the connection signed in as (*Signing in again*)").chars(TokenMax),
			ref,
		}},
	{Name: ActionSignOutEverywhere, Cost: 3, Route: RouteDefault, Doc: "with sign-in: close every connection of your account, on every device, this one included",
		Fields: []Field{ref}},
	{Name: ActionDeleteAccount, Cost: 3, Route: RouteDefault, Doc: "with sign-in: delete your account (*Deleting an account*): its names are released, its connections closed after you are sent `accountDeleted`",
		Fields: []Field{ref}},
}

// Actions returns the action table in a stable order.
func Actions() []Action { return slices.Clone(actions) }

// LookupAction returns the action with the given name.
func LookupAction(name string) (Action, bool) {
	i := slices.IndexFunc(actions, func(a Action) bool { return a.Name == name })
	if i < 0 {
		return Action{}, false
	}
	return actions[i], true
}

// Error codes ("code" of an error frame, and of a state frame's warning):
// stable, for programs.
const (
	CodeBadJSON           = "bad_json"
	CodeUnknownAction     = "unknown_action"
	CodeBadField          = "bad_field"
	CodeMissingField      = "missing_field"
	CodeNameEmpty         = "name_empty"
	CodeNameTooLong       = "name_too_long"
	CodeNameInvalid       = "name_invalid"
	CodeNameTaken         = "name_taken"
	CodeNameNoLetter      = "name_no_letter"
	CodeNameMixedScripts  = "name_mixed_scripts"
	CodeMessageEmpty      = "message_empty"
	CodeMessageTooLong    = "message_too_long"
	CodeMessageInvalid    = "message_invalid"
	CodeRecipientsEmpty   = "recipients_empty"
	CodeRecipientsTooMany = "recipients_too_many"
	CodeRecipientsUnknown = "recipients_unknown"
	CodeNotConnected      = "not_connected"
	CodeBusy              = "busy"
	CodeRateLimited       = "rate_limited"
	CodeTooManyDevices    = "too_many_devices"
	CodeForbidden         = "forbidden"
	CodeNotFound          = "not_found"
	CodeEditExpired       = "edit_expired"
	CodeMessageRemoved    = "message_removed"
	CodeBadCursor         = "bad_cursor"
	CodeReauthRequired    = "reauth_required"
	CodeReauthRefused     = "reauth_refused"
	CodeSignedOut         = "signed_out"
	CodeUnknownAccount    = "unknown_account"
	CodeDurationInvalid   = "duration_invalid"
	CodeReasonTooLong     = "reason_too_long"
	CodeScopeInvalid      = "scope_invalid"
	CodeMuted             = "muted"
	CodeBanned            = "banned"
	CodeInternal          = "internal"
)

// ErrorCode is one entry of the error-code table.
type ErrorCode struct {
	Code string
	// When says when the server sends it (docs/protocol.md's table).
	When string
}

var errorCodes = []ErrorCode{
	{CodeBadJSON, "the frame is not a JSON object"},
	{CodeUnknownAction, "no action, or one the server does not know; `message` lists the valid actions"},
	{CodeMissingField, "a field the action needs is absent or `null` (`name` for `setName`, `message`, `to`)"},
	{CodeBadField, "a field has the wrong type (`name` not a string, `to` not a list of strings, …) or `ref` is too long"},
	{CodeNameEmpty, "the name is empty after trimming (*Limits*)"},
	{CodeNameTooLong, "the name is over " + strconv.Itoa(NameMax) + " characters or " + strconv.Itoa(NameMaxBytes) + " bytes (*Limits*)"},
	{CodeNameInvalid, "the name has a character names may not have (*Limits*)"},
	{CodeNameNoLetter, "the name has no letter or digit (*Limits*); a name held before this rule existed stays its holder's until renamed"},
	{CodeNameMixedScripts, "the name mixes scripts (*Limits*); a name held before this rule existed stays its holder's until renamed"},
	{CodeNameTaken, "someone else holds the name (*Limits*)"},
	{CodeMessageEmpty, "the message is empty or only white space (*Limits*)"},
	{CodeMessageTooLong, "the message is over " + strconv.Itoa(MessageMax) + " characters (*Limits*)"},
	{CodeMessageInvalid, "the message has a control character other than newline, carriage return or tab (*Limits*)"},
	{CodeRecipientsEmpty, "a private message names nobody (*Limits*)"},
	{CodeRecipientsTooMany, "a private message names more than " + strconv.Itoa(RecipientsMax) + " people (*Limits*)"},
	{CodeRecipientsUnknown, "a recipient is not in the sender's room; `unknown` lists the names (*Limits*)"},
	{CodeBusy, "another `setName` of the same connection (with sign-in: of the same account) changed the name at the same moment; try again"},
	{CodeRateLimited, "the frame costs more than is left of the person's budget (*Rate limits*), or, with sign-in, to a connection whose `$connect` was past the account's connects per minute (*Connecting*); `retryAfterMs` says when it will be accepted again; nothing was stored or sent"},
	{CodeNotConnected, "the server has no record of this connection (it expired); reconnect"},
	{CodeTooManyDevices, "with sign-in, to a connection whose `$connect` was refused because its account holds its device cap (*Connecting*); the connection is in no room: close it and try again later"},
	{CodeForbidden, "`remove` or `edit` of someone else's message (nobody edits another's message, moderators neither), or a moderation act (`mute`, `unmute`, `kick`, `ban`, `unban`), by a person who is not a moderator (*Moderation*), or `deleteAccount` without sign-in; nothing was changed. Also any frame of a connection a moderator's `kick` (or a ban lifted since) ended whose close was lost: the connection is closed next, and the page may connect again"},
	{CodeUnknownAccount, "a moderation act names an account that never signed in here; nothing was changed"},
	{CodeDurationInvalid, "`minutes` is not a whole number from 1 to " + strconv.Itoa(MuteMinutesMax) + " (`mute`) or " + strconv.Itoa(BanMinutesMax) + " (`ban`); nothing was changed"},
	{CodeReasonTooLong, "`reason` is over " + strconv.Itoa(ReasonMax) + " characters (*Limits*); nothing was changed"},
	{CodeScopeInvalid, "`scope` is neither `room` nor `env`; nothing was changed"},
	{CodeMuted, "a send (`sendPublic`, `sendPrivate`, `setName`) by an account a moderator muted in the room; `retryAfterMs` says how long the mute lasts still; nothing was stored or sent"},
	{CodeBanned, "a frame of an account banned from the room or the environment: the connection is closed after this frame"},
	{CodeNotFound, "`remove` names no public message of your room (none with that `id`, one that expired, or a private one); `edit` names no message of your room you took part in"},
	{CodeEditExpired, "`edit` of a message sent more than 15 minutes ago; nothing was changed"},
	{CodeMessageRemoved, "`edit` of a message that was removed; nothing was changed"},
	{CodeBadCursor, "`history`'s `cursor` is not one the server made for your room (another room's, or not a cursor); nothing was read"},
	{CodeReauthRequired, "with sign-in: the connection's sign-in ended (its ID token expired); send `reauth` with a fresh token within the grace (*Signing in again*) or the server closes the connection; the frame was neither stored nor sent"},
	{CodeReauthRefused, "`reauth`'s token is not valid (expired, of another pool, tampered), is another account's, or sign-in is off; the connection's sign-in is unchanged"},
	{CodeSignedOut, "with sign-in: the account signed out everywhere after this connection signed in (*Signing in again*); the frame was neither stored nor sent, and the server closes the connection: sign in again"},
	{CodeInternal, "the server could not complete the action (storage unavailable, …); nothing was half-done; try again"},
}

// ErrorCodes returns the error-code table in a stable order.
func ErrorCodes() []ErrorCode { return slices.Clone(errorCodes) }

// IsErrorCode reports whether code is one of the table's.
func IsErrorCode(code string) bool {
	return slices.ContainsFunc(errorCodes, func(e ErrorCode) bool { return e.Code == code })
}
