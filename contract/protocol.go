package contract

//go:generate go run ../cmd/protocolgen -root ..

import "slices"

// The wire protocol's one definition: the actions a client sends and the
// error codes the server answers with. The handler dispatches on Actions,
// cmd/protocolgen writes the page's frontend/src/protocol.gen.ts and the
// tables of docs/protocol.md from them, and tests fail when either differs.
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
}

// CustomRoute reports whether the action has a route of its own.
func (a Action) CustomRoute() bool { return a.Route != RouteDefault }

var actions = []Action{
	{ActionHello, RouteDefault, "ask for the state: answered with a `state` frame"},
	{ActionPing, RouteDefault, "keep-alive: answered with a `pong` frame"},
	{ActionMembers, RouteDefault, "read the member list a page at a time: answered with `memberPage` frames"},
	{ActionSetName, RouteSetName, "change your name: the room is sent `renamed`"},
	{ActionSendPublic, RouteSendPublic, "message everyone in your room: the room is sent `public`"},
	{ActionSendPrivate, RouteSendPrivate, "message selected people: they and you are sent `private`"},
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
	{CodeNameTooLong, "the name is over 32 characters or 64 bytes (*Limits*)"},
	{CodeNameInvalid, "the name has a character names may not have (*Limits*)"},
	{CodeNameNoLetter, "the name has no letter or digit (*Limits*); a name held before this rule existed stays its holder's until renamed"},
	{CodeNameMixedScripts, "the name mixes scripts (*Limits*); a name held before this rule existed stays its holder's until renamed"},
	{CodeNameTaken, "someone else holds the name (*Limits*)"},
	{CodeMessageEmpty, "the message is empty or only white space (*Limits*)"},
	{CodeMessageTooLong, "the message is over 2000 characters (*Limits*)"},
	{CodeMessageInvalid, "the message has a control character other than newline, carriage return or tab (*Limits*)"},
	{CodeRecipientsEmpty, "a private message names nobody (*Limits*)"},
	{CodeRecipientsTooMany, "a private message names more than 20 people (*Limits*)"},
	{CodeRecipientsUnknown, "a recipient is not in the sender's room; `unknown` lists the names (*Limits*)"},
	{CodeBusy, "another `setName` of the same connection (with sign-in: of the same account) changed the name at the same moment; try again"},
	{CodeRateLimited, "the person sent more than the limit (*Rate limits*); `retryAfterMs` says when a frame will be accepted again; nothing was stored or sent"},
	{CodeNotConnected, "the server has no record of this connection (it expired); reconnect"},
	{CodeTooManyDevices, "with sign-in, to a connection whose `$connect` was refused because its account holds its device cap (*Connecting*); the connection is in no room: close it and try again later"},
	{CodeInternal, "the server could not complete the action (storage unavailable, …); nothing was half-done; try again"},
}

// ErrorCodes returns the error-code table in a stable order.
func ErrorCodes() []ErrorCode { return slices.Clone(errorCodes) }

// IsErrorCode reports whether code is one of the table's.
func IsErrorCode(code string) bool {
	return slices.ContainsFunc(errorCodes, func(e ErrorCode) bool { return e.Code == code })
}

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
	FrameError      = "error"
)

// FrameKind is one entry of the frame-kind table.
type FrameKind struct {
	Kind string
	// When says when the server sends it (docs/protocol.md's table).
	When string
}

var frameKinds = []FrameKind{
	{FrameState, "the answer to `hello`: the room, its members, history and limits"},
	{FramePong, "the answer to `ping`"},
	{FrameJoined, "someone arrived (rooms of up to 20)"},
	{FrameLeft, "someone went (rooms of up to 20)"},
	{FramePresence, "a big room's member count"},
	{FrameMemberPage, "the answer to `members`: one page of the member list"},
	{FrameMembers, "the member list after stale connections were removed"},
	{FrameRenamed, "someone changed their name"},
	{FramePublic, "a message to everyone in the room"},
	{FramePrivate, "a message to selected people (and the sender's copy)"},
	{FrameError, "the action of a frame of yours was refused; `code` says why"},
}

// FrameKinds returns the frame-kind table in a stable order.
func FrameKinds() []FrameKind { return slices.Clone(frameKinds) }
