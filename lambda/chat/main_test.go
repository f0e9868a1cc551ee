package chat_test

import (
	"encoding/json"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

func TestMain(m *testing.M) { chattest.Main(m) }

// frame is a decoded server frame, loose enough for every type.
type frame struct {
	Type    string   `json:"type"`
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Action  string   `json:"action"`
	Ref     string   `json:"ref"`
	Unknown []string `json:"unknown"`
	Room    string   `json:"room"`
	Name    string   `json:"name"`
	OldName string   `json:"oldName"`
	From    string   `json:"from"`
	To      []string `json:"to"`
	ID      string   `json:"id"`
	TS      int64    `json:"ts"`
	You     string   `json:"you"`
	Members []string `json:"members"`
	Count   int      `json:"count"`
	Gone    []string `json:"gone"`
	History []frame  `json:"history"`
	Private []frame  `json:"private"`
	Resume  string   `json:"resume"`
	Limits  *struct {
		NameMax, MessageMax, RecipientsMax int
	} `json:"limits"`
	Warning *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"warning"`
	// With sign-in: the sender's or subject's account; rate_limited's wait.
	Account      string `json:"account"`
	Username     string `json:"username"`
	RetryAfterMs int64  `json:"retryAfterMs"`
	// remove: the removed frame's, and a history entry's removal.
	By      string `json:"by"`
	Reason  string `json:"reason"`
	At      int64  `json:"at"`
	Removed *frame `json:"removed"`
	// edit: an edited frame's (and a history entry's) time of the edit.
	Edited int64    `json:"edited"`
	Roles  []string `json:"roles"`
	// history: the state's cursor and a historyPage's.
	HistoryCursor string `json:"historyCursor"`
	Cursor        string `json:"cursor"`
	// moderated: the act and when it ends.
	Act   string `json:"act"`
	Until int64  `json:"until"`
}

func decode(t *testing.T, raw []byte) frame {
	t.Helper()
	var f frame
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("server frame is not JSON: %q: %v", raw, err)
	}
	if f.Type == "" {
		t.Fatalf("server frame has no type: %s", raw)
	}
	return f
}

// inbox returns and clears the frames delivered to a connection.
func inbox(t *testing.T, h *chattest.Harness, id string) []frame {
	t.Helper()
	var out []frame
	for _, raw := range h.GW.Take(id) {
		out = append(out, decode(t, raw))
	}
	return out
}

// state sends hello and returns the state frame.
func state(t *testing.T, h *chattest.Harness, id string) frame {
	t.Helper()
	f := decode(t, []byte(h.Send(id, `{"action":"hello"}`)))
	if f.Type != "state" {
		t.Fatalf("hello answered %+v, want a state frame", f)
	}
	return f
}

func types(fs []frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Type
	}
	return out
}

// only asserts that fs is exactly one frame of the given type and returns it.
func only(t *testing.T, fs []frame, typ string) frame {
	t.Helper()
	if len(fs) != 1 || fs[0].Type != typ {
		t.Fatalf("got frames %v, want exactly one %q", types(fs), typ)
	}
	return fs[0]
}

// sendErr sends a frame that must be refused and returns the error frame,
// wherever the route delivers it (route response or PostToConnection).
func sendErr(t *testing.T, h *chattest.Harness, id, body string) frame {
	t.Helper()
	var fs []frame
	if resp := h.Send(id, body); resp != "" {
		fs = append(fs, decode(t, []byte(resp)))
	}
	fs = append(fs, inbox(t, h, id)...)
	return only(t, fs, "error")
}
