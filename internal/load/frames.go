package load

// The frames the tool writes and how it reads the server's: docs/protocol.md.

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/groupchat/groupchat/contract"
)

// A message the tool sends carries a marker in its text, "load:<run>:<seq>",
// and its sequence number as ref. The marker finds the message in every
// member's copy (ref is only in the sender's copy); the run id keeps the
// messages of two runs against one stack apart.
const markerPrefix = "load:"

// marker is the text every message of run seq starts with.
func marker(run string, seq int) string {
	return markerPrefix + run + ":" + strconv.Itoa(seq) + ":"
}

// encodeSendPublic returns the one frame the tool sends, a sendPublic action
// (contract's definition's type) that sends text as message seq, its ref the
// sequence number.
func encodeSendPublic(text string, seq int) ([]byte, error) {
	return json.Marshal(contract.SendPublicRequest{Action: contract.ActionSendPublic, Message: text, Ref: strconv.Itoa(seq)})
}

// Frame is what the smoke test (internal/smoke) reads from a server frame of
// any kind, adding the fields only it needs: fields of contract's definition
// (TestFrameReadsFieldsOfTheDefinition). The tool itself decodes the frames it
// tracks as the definition's types (parseFrame).
type Frame struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Ref     string `json:"ref"`
	Room    string `json:"room"`
	Message string `json:"message"`
}

// kind is what a server frame means to the tool.
type kind int

const (
	kindOther    kind = iota // a frame the tool does not track (joined, left, members, state, …)
	kindPublic               // a public message of this run: seq is set
	kindForeign              // a public message of another run or another client
	kindError                // an error frame: code, and seq when it carries this tool's ref
	kindGateway              // not a chat frame: API Gateway's own error ({"message":"Internal server error"})
	kindBadFrame             // not a JSON object
)

// parsed is a classified server frame.
type parsed struct {
	kind kind
	typ  string
	seq  int  // the message's sequence number, -1 when none
	own  bool // a public or error frame that carries a ref: the sender's own copy or its error
	code string
}

// parseFrame classifies one server frame for run, reading a public message
// and an error as contract's definition's types. It never fails: what it
// cannot read (not a JSON object, or a public or error frame whose fields are
// not of the definition's types) is kindBadFrame.
func parseFrame(data []byte, run string) parsed {
	p := parsed{seq: -1, kind: kindBadFrame}
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(data, &head) != nil {
		return p
	}
	p.typ = head.Type
	switch head.Type {
	case contract.FramePublic:
		var f contract.PublicFrame
		if json.Unmarshal(data, &f) != nil {
			return p
		}
		p.kind, p.own = kindForeign, f.Ref != ""
		if seq, ok := parseMarker(f.Message, run); ok {
			p.kind, p.seq = kindPublic, seq
		}
	case contract.FrameError:
		var f contract.ErrorFrame
		if json.Unmarshal(data, &f) != nil {
			return p
		}
		p.kind, p.code, p.own = kindError, f.Code, f.Ref != ""
		if n, err := strconv.Atoi(f.Ref); err == nil && n >= 0 {
			p.seq = n
		}
	case "":
		p.kind = kindGateway
	default:
		p.kind = kindOther
	}
	return p
}

// parseMarker reads the sequence number from a message of run.
func parseMarker(msg, run string) (int, bool) {
	rest, ok := strings.CutPrefix(msg, markerPrefix+run+":")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, ":")
	if !ok || num == "" || len(num) > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || strconv.Itoa(n) != num {
		return 0, false
	}
	return n, true
}
