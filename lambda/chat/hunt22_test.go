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

// Alice has two tabs in a room; on her laptop she renames to "Alicia". Her
// phone's state, read while the room index still lists the laptop's record
// as "alice", lists her own account twice: "Alicia (@alice)" from the
// phone's own record and "alice" from the laptop's stale entry, so her page
// shows two people where the count says one.
func TestAliceRenamingOnHerLaptopIsListedOnceOnHerPhoneWhileTheIndexLags(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	laptop := h.JoinAs("alice", "")
	phone := h.JoinAs("alice", "")
	h.JoinAs("bob", "")
	h.Settle()
	h.DynamoDB.Inject(ddbproxy.Faults{IndexLag: time.Hour})
	rename(t, h, laptop, "Alicia")
	s := decodeListed(t, h.Send(phone, `{"action":"hello"}`))
	if s.You != "Alicia" {
		t.Fatalf("the phone's state: you %q", s.You)
	}
	if _, n := s.shownAs("alice"); n != 0 {
		t.Errorf("alice's phone lists her twice, as %v with usernames %v (count %s)", s.Names, s.Usernames, "1 person")
	}
}

// The finding: a private message was priced 1 unit however many people it
// named (up to contract.RecipientsMax): each name is resolved with two
// consistent reads and gets its own copy, so one to 20 people made 62
// DynamoDB requests for the unit one to a single person makes 7 for, and a
// person's budget of 20 units bought about 1,240 requests every 10 s, where
// 6 hellos buy 30. Now its price is 1 + recipients/2 (the definition's
// sendPrivate entry): per unit it draws, no private message makes more
// requests than one to a single person.
func TestAPrivateMessageToTwentyPeopleDrawsAsManyUnitsAsItMakesRequests(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn) // the default budget: 20 units per 10 s
	alice := h.JoinAs("alice", "")
	var to []string
	for i := range 20 {
		name := "p" + string(rune('a'+i)) + "x"
		h.JoinAs(name, "")
		to = append(to, name)
	}
	h.Settle()
	h.GW.Take(alice)
	requests := func(body string) (int64, bool) {
		before := h.DynamoDB.Counts()
		h.Send(alice, body)
		after := h.DynamoDB.Counts()
		n := int64(0)
		for op, c := range after {
			n += c - before[op]
		}
		for _, f := range inbox(t, h, alice) {
			if f.Type == "error" {
				return n, false
			}
		}
		return n, true
	}
	one, ok := requests(`{"action":"sendPrivate","to":["pax"],"message":"hi"}`)
	if !ok {
		t.Fatal("the first private message was refused")
	}
	all, _ := json.Marshal(to)
	body := `{"action":"sendPrivate","to":` + string(all) + `,"message":"hi"}`
	twenty, accepted := int64(0), 0
	for range 20 {
		n, ok := requests(body)
		if !ok {
			break
		}
		twenty, accepted = n, accepted+1
	}
	if accepted == 0 {
		t.Fatal("no private message to 20 was accepted")
	}
	units := float64(20-1) / float64(accepted) // what each drew of the budget left
	t.Logf("to 1: %d requests for 1 unit; to 20: %d requests, %d accepted on 19 units (%.1f units each)", one, twenty, accepted, units)
	if per := float64(twenty) / units; per > 2*float64(one) {
		t.Errorf("a private message to 20 makes %.0f requests per unit it draws, one to 1 makes %d: a person's budget buys %.0f× the requests through it",
			per, one, per/float64(one))
	}
}

// Eve's username is "éve" as Cognito keeps it, decomposed (e + U+0301: a
// username may hold marks, and the Pre sign-up trigger prepares it as a
// name). Once she goes by "Evie", Bob's list must show her username beside
// it as her messages do; a list that leaves it out shows "Evie" as if it
// were her username.
func TestEveWhoseUsernameIsDecomposedIsListedWithItAfterRenaming(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	bob := h.JoinAs("bob", "")
	eve, resp := h.ConnectAs("sub-eve", "e\u0301ve", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("eve's connect: %d %s", resp.StatusCode, resp.Body)
	}
	rename(t, h, eve, "Evie")
	h.Settle()
	s := decodeListed(t, h.Send(bob, `{"action":"hello"}`))
	if u, n := s.shownAs("Evie"); n != 1 || u == "" {
		t.Errorf("bob's state lists Evie %d times with username %q beside it; her messages carry %q", n, u, "e\u0301ve")
	}
}
