package chat_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// listed is a state's or a memberPage's list with the usernames beside
// the names.
type listed struct {
	Type      string             `json:"type"`
	You       string             `json:"you"`
	Username  string             `json:"username"`
	Names     []string           `json:"-"`
	Usernames []string           `json:"usernames"`
	Entries   []chat.MemberEntry `json:"-"`
	Raw       json.RawMessage    `json:"members"`
}

func decodeListed(t *testing.T, body string) listed {
	t.Helper()
	var l listed
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	if l.Type == "state" {
		if err := json.Unmarshal(l.Raw, &l.Names); err != nil {
			t.Fatal(err)
		}
		return l
	}
	if err := json.Unmarshal(l.Raw, &l.Entries); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return l
}

// shownAs is how a state lists name: the username beside it ("" when none).
func (l listed) shownAs(name string) (username string, listed int) {
	for i, n := range l.Names {
		if n == name {
			listed++
			if i < len(l.Usernames) {
				username = l.Usernames[i]
			}
		}
	}
	return username, listed
}

// Carol goes by "Caz" and renames to "Cazzy"; Dave takes "Caz" at once.
// While the room index still lists Carol's record as "Caz" (it lags), Dave's
// own list shows him, "Caz", with carol's username: his page shows himself
// as "Caz (@carol)", and the memberPage's entry carries his account beside
// carol's username. His own entry comes from his own record, which is not
// stale: it must say dave (or nothing), never carol.
func TestDaveWhoJustTookCazIsNeverListedToHimselfAsCazAtCarolWhileTheIndexLags(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	carol := h.JoinAs("carol", "")
	rename(t, h, carol, "Caz")
	dave := h.JoinAs("dave", "")
	h.Settle() // the index lists carol as Caz
	h.DynamoDB.Inject(ddbproxy.Faults{IndexLag: time.Hour})
	rename(t, h, carol, "Cazzy")
	rename(t, h, dave, "Caz") // released by carol
	s := decodeListed(t, h.Send(dave, `{"action":"hello"}`))
	if s.You != "Caz" || s.Username != "dave" {
		t.Fatalf("dave's state: you %q (@%s)", s.You, s.Username)
	}
	if u, n := s.shownAs("Caz"); n != 1 || u != "dave" {
		t.Errorf("dave's state lists Caz %d times, with username %q beside it: his page shows him as Caz (@%s), want (@dave)", n, u, u)
	}
	p := decodeListed(t, h.Send(dave, `{"action":"members"}`))
	for _, e := range p.Entries {
		if e.Name == "Caz" && e.Username != "dave" {
			t.Errorf("dave's memberPage lists %+v: his own entry with another's username", e)
		}
	}
}

// rename sends setName and fails the test unless the connection got its
// renamed frame.
func rename(t *testing.T, h *chattest.Harness, id, name string) {
	t.Helper()
	h.GW.Take(id)
	if body := h.Send(id, `{"action":"setName","name":`+strconvQuote(name)+`}`); body != "" {
		t.Fatalf("setName %s: answered %s", name, body)
	}
	for _, f := range inbox(t, h, id) {
		if f.Type == "renamed" && f.Name == name {
			return
		}
		if f.Type == "error" {
			t.Fatalf("setName %s: %+v", name, f)
		}
	}
	t.Fatalf("setName %s: no renamed frame", name)
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
