package chat

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// Kind names what a frame or a message-log record is: a frame's "type" and a
// record's kind. A record's kind is one of the message and activity kinds; a
// frame carries any kind but KindGone and KindReplaced.
type Kind string

// Messages people send, and the activity the log records.
const (
	KindPublic  Kind = contract.FramePublic
	KindPrivate Kind = contract.FramePrivate
	KindJoined  Kind = contract.FrameJoined
	KindLeft    Kind = contract.FrameLeft
	KindRenamed Kind = contract.FrameRenamed
	// KindRemoved: a message was removed (Record.MessageID; the remover in
	// From and FromAccount, the sender in To and ToAccounts, Reason).
	KindRemoved Kind = contract.FrameRemoved
	KindGone    Kind = "gone" // removed after API Gateway answered 410; a log record only
	// KindReplaced: removed because another connection took its name over
	// (Record.ReplacedBy, for Record.Reason); a log record only: the room
	// sees the newcomer's joined and no left.
	KindReplaced Kind = "replaced"
	// KindOperator: an operator's act (operator.go) or an account's
	// deletion by its person; a log record only, in the room-less activity
	// stream: who (From: "operator", or the account's name), whom (To,
	// ToAccounts), what (Message: the operation), why (Reason), when (TS).
	KindOperator Kind = "operator"
	// KindAccountDeleted is the accountDeleted frame.
	KindAccountDeleted Kind = contract.FrameAccountDeleted
)

// Why a connection was replaced (Record.Reason).
const (
	// ReasonResumed: the same person reconnected with its resume token.
	ReasonResumed = "resumed"
	// ReasonExpired: the connection had outlived its TTL (its $disconnect
	// never came) and someone else took the name.
	ReasonExpired = "expired"
)

// Frames that are not records.
const (
	KindState   Kind = contract.FrameState
	KindPong    Kind = contract.FramePong
	KindMembers Kind = contract.FrameMembers
	KindError   Kind = contract.FrameError
	KindTyping  Kind = contract.FrameTyping
)

// IsMessage reports whether a record is a message someone sent, rather than
// activity that has already happened when it is recorded.
func (k Kind) IsMessage() bool { return k == KindPublic || k == KindPrivate }

// StateMaxBytes bounds a state frame: the oldest history entries that do
// not fit are left out, so the frame stays inside API Gateway's 128 KB.
const StateMaxBytes = 100 * 1024

// Problem is an error a client is told about: a code and a sentence.
type Problem struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Unknown []string `json:"unknown,omitempty"`
	// RetryAfterMs (rate_limited) is how long to wait before the next
	// frame can be accepted.
	RetryAfterMs int64 `json:"retryAfterMs,omitempty"`
}

func (p *Problem) Error() string { return p.Code + ": " + p.Message }

// Limits are the bounds a client can show; sent in every state frame.
type Limits struct {
	NameMax       int `json:"nameMax"`
	NameMaxBytes  int `json:"nameMaxBytes"`
	MessageMax    int `json:"messageMax"`
	RecipientsMax int `json:"recipientsMax"`
}

// warning is a state frame's: why the connection has another name than it asked for.
type warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func warningOf(p *Problem) *warning {
	if p == nil {
		return nil
	}
	return &warning{Code: p.Code, Message: p.Message}
}

// Server → client frames: their fields are contract's definition's
// (TestTheHandlerFramesHaveTheDefinedFields). Field order follows docs/protocol.md.

type stateFrame struct {
	Type    Kind     `json:"type"`
	Room    string   `json:"room"`
	You     string   `json:"you"`
	Members []string `json:"members"`
	// Count is the room's member count; MembersCursor, when set, reads the
	// rest of the list with the members action (Members is then a page).
	Count int `json:"count"`
	// CV is the count's version (RoomCount.cv): a page keeps the count
	// of the greatest cv it was sent.
	CV            int64  `json:"cv,omitempty"`
	MembersCursor string `json:"membersCursor,omitempty"`
	// Usernames are the usernames of Members, at the same index, with
	// sign-in ("" where a page shows none: listedUsername); nil when every
	// one is "".
	Usernames []string          `json:"usernames,omitempty"`
	History   []json.RawMessage `json:"history"`
	Limits    Limits            `json:"limits"`
	Resume    string            `json:"resume"`
	Warning   *warning          `json:"warning,omitempty"`
	Account   string            `json:"account,omitempty"`  // yours, with sign-in
	Username  string            `json:"username,omitempty"` // yours, with sign-in
	// Private is the caller's own private conversation of the room (messages
	// it sent or received as the same person: the same account with sign-in,
	// else the same resume token), oldest first; see Reader.
	Private []json.RawMessage `json:"private"`
	// Roles are the caller's, from its verified token (RoleModerator).
	Roles []string `json:"roles,omitempty"`
	// HistoryCursor reads on with the history action; empty when History
	// and Private reach the room's beginning.
	HistoryCursor string `json:"historyCursor,omitempty"`
}

type pongFrame struct {
	Type  Kind  `json:"type"`
	TS    int64 `json:"ts"`
	Count int   `json:"count,omitempty"` // the caller's room's member count
	CV    int64 `json:"cv,omitempty"`
}

type presenceFrame struct { // joined, left
	Type    Kind   `json:"type"`
	Room    string `json:"room"`
	Name    string `json:"name"`
	TS      int64  `json:"ts"`
	Count   int    `json:"count,omitempty"` // the room's member count after it
	CV      int64  `json:"cv,omitempty"`
	Account string `json:"account,omitempty"`
	// Username (signed in) is the person's, shown beside a name that differs.
	Username string `json:"username,omitempty"`
	// V (signed in) is the account's device version the frame was decided
	// at: a page applies a person's joined or left only over an older one.
	V int64 `json:"v,omitempty"`
}

type membersFrame struct {
	Type    Kind     `json:"type"`
	Room    string   `json:"room"`
	Members []string `json:"members"`
	Gone    []string `json:"gone"`
	// Left stamps each person who left as a left frame would (the list
	// is read from the lagging index: a page follows these instead).
	Left []leftEntry `json:"left"`
	// Stayed (signed in) stamps each person still in the room on another
	// device, as a joined frame would.
	Stayed []leftEntry `json:"stayed,omitempty"`
	TS     int64       `json:"ts"`
	Count  int         `json:"count"`
	CV     int64       `json:"cv,omitempty"`
}

type renamedFrame struct {
	Type    Kind   `json:"type"`
	Room    string `json:"room"`
	OldName string `json:"oldName"`
	Name    string `json:"name"`
	TS      int64  `json:"ts"`
	Ref     string `json:"ref,omitempty"`
	Account string `json:"account,omitempty"`
	// Username (signed in) is the person's, shown beside a name that differs.
	Username string `json:"username,omitempty"`
}

type publicFrame struct {
	Type    Kind   `json:"type"`
	ID      string `json:"id"`
	TS      int64  `json:"ts"`
	Room    string `json:"room"`
	From    string `json:"from"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
	Account string `json:"account,omitempty"`
	// Username is the sender's, with sign-in: shown beside a name that differs.
	Username string `json:"username,omitempty"`
	// Removed (history only): the message was removed; Message is empty.
	Removed *removal `json:"removed,omitempty"`
	// Edited (history only): when the text was last edited (ms).
	Edited int64 `json:"edited,omitempty"`
	// Mentions are the people its text mentions, as the server resolved
	// them when it was sent (mention.go).
	Mentions []mention `json:"mentions,omitempty"`
}

// mention is a person a public message mentions (contract.ShapeMention).
type mention struct {
	Name    string `json:"name"`
	Account string `json:"account,omitempty"`
}

// removal is how a message was removed, in a history entry.
type removal struct {
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
	At     int64  `json:"at"`
}

// removedFrame tells the room a public message was removed.
type removedFrame struct {
	Type   Kind   `json:"type"`
	Room   string `json:"room"`
	ID     string `json:"id"`
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
	At     int64  `json:"at"`
	Ref    string `json:"ref,omitempty"`
}

type privateFrame struct {
	Type    Kind     `json:"type"`
	ID      string   `json:"id"`
	TS      int64    `json:"ts"`
	Room    string   `json:"room"`
	From    string   `json:"from"`
	To      []string `json:"to"`
	Message string   `json:"message"`
	Ref     string   `json:"ref,omitempty"`
	Account string   `json:"account,omitempty"`
	// Username is the sender's, with sign-in: shown beside a name that differs.
	Username string `json:"username,omitempty"`
	// Edited (history only): when the text was last edited (ms).
	Edited int64 `json:"edited,omitempty"`
}

type errorFrame struct {
	Type Kind `json:"type"`
	Problem
	Action string `json:"action,omitempty"`
	Ref    string `json:"ref,omitempty"`
}

func millis(t time.Time) int64 { return t.UnixMilli() }

// withRef returns a frame's copy for the client whose action caused it.
func withRef[F renamedFrame | publicFrame | privateFrame | removedFrame](f F, ref string) F {
	switch f := any(&f).(type) {
	case *renamedFrame:
		f.Ref = ref
	case *publicFrame:
		f.Ref = ref
	case *privateFrame:
		f.Ref = ref
	case *removedFrame:
		f.Ref = ref
	}
	return f
}

// encode marshals a frame. HTML is not escaped: "<" stays one byte instead
// of six, and the page renders every field as text anyway. The frames are
// plain structs of strings and numbers, so marshalling cannot fail.
func encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("chat: encode frame: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// leftEntry is one person a members frame says left, as a left frame
// would say it: a page applies it by the rule of joined and left.
type leftEntry struct {
	Name     string `json:"name"`
	TS       int64  `json:"ts"`
	Account  string `json:"account,omitempty"`
	Username string `json:"username,omitempty"`
	V        int64  `json:"v,omitempty"`
}
