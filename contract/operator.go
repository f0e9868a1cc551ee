package contract

import "slices"

// Operator events: what an operator sends the function with `aws lambda
// invoke` (scripts/admin.sh), IAM deciding who may (docs/auth.md,
// "Operators"). The event is one JSON object with the single top-level key
// OperatorEventKey, whose value is an OperatorRequest. API Gateway's events
// have a fixed set of top-level keys (requestContext, body, headers, …; a
// client controls only values inside them) and so have Cognito's
// (triggerSource, request, response, …): neither can ever send this key.
const OperatorEventKey = "groupchatOperator"

// Operations an operator event names ("op").
const (
	OpCloseConnections = "closeConnections"
	OpRemoveMessage    = "removeMessage"
	OpDeleteAccount    = "deleteAccount"
	OpBan              = "ban"
	OpUnban            = "unban"
)

// OperatorRequest is the value of an operator event's OperatorEventKey.
type OperatorRequest struct {
	Op string `json:"op"`
	// Account (the Cognito sub) or Username names whom the act is about;
	// with only the username, the account is the one its reservation
	// names. deleteAccount needs the username (its reservation is
	// released).
	Account  string `json:"account,omitempty"`
	Username string `json:"username,omitempty"`
	// Room and Message (removeMessage): the public message's room and id.
	Room    string `json:"room,omitempty"`
	Message string `json:"message,omitempty"`
	// Reason: why, recorded with the act (at most ReasonMax characters).
	Reason string `json:"reason,omitempty"`
	// Until (ban): when the ban ends, in milliseconds since the Unix
	// epoch; 0: never.
	Until int64 `json:"until,omitempty"`
}

// OperatorAnswer is the function's answer to an operator event: Result
// (ResultDone, or ResultAlready when the act had been done before) or
// Error (one of the OperatorErrors' codes), never both.
type OperatorAnswer struct {
	Op      string `json:"op"`
	Result  string `json:"result,omitempty"`
	Error   string `json:"error,omitempty"`
	Message string `json:"message"`
	// Account is the account the act was about.
	Account string `json:"account,omitempty"`
	// Closed counts the connections closed.
	Closed int `json:"closed,omitempty"`
	// Released lists the names released (deleteAccount).
	Released []string `json:"released,omitempty"`
}

// Operator results and errors: stable, for scripts.
const (
	ResultDone    = "done"
	ResultAlready = "already"

	OpErrUnknownOperation = "unknown_operation"
	OpErrBadRequest       = "bad_request"
	OpErrNotFound         = "not_found"
	OpErrSignInOff        = "sign_in_off"
	OpErrInternal         = "internal"
)

// OperatorErrors lists the error codes of an operator answer, with what
// each means (docs/auth.md's table).
func OperatorErrors() []ErrorCode {
	return slices.Clone([]ErrorCode{
		{OpErrUnknownOperation, "`op` names no operation this function has"},
		{OpErrBadRequest, "a field is missing or malformed (no account or username, a reason over the limit, …)"},
		{OpErrNotFound, "no such account, username or message"},
		{OpErrSignInOff, "an operation on accounts in an environment without sign-in"},
		{OpErrInternal, "storage failed; nothing half-done is left that a second run does not finish: run it again"},
	})
}
