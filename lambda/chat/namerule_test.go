package chat_test

// The name rule (namerule.go): look-alikes are one name, a name needs a
// letter or a digit, scripts mix only as TR39's Moderately Restrictive level
// allows, and names in the world's scripts still pass.

import (
	"context"
	"fmt"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// lookAlikes are names another account tried while alice and bob were
// connected (issue 22), with what the server must answer.
var lookAlikes = []struct{ name, of, code string }{
	{"al\u0131\u0307ce", "alice", "name_taken"}, // dotless i and a combining dot above
	{"alice\u0332", "alice", "name_taken"},      // a combining low line
	{"alic\u1eb9", "alice", "name_taken"},       // e with a dot below, precomposed
	{"alice\u0323", "alice", "name_taken"},      // the same, decomposed
	{"ᴀʟɪᴄᴇ", "alice", "name_taken"},            // small capitals
	{"ALICE", "alice", "name_taken"},
	{"Ａｌｉｃｅ", "alice", "name_taken"}, // fullwidth
	{"a1ice", "alice", "name_taken"},
	{"ᏴᎾᏴ", "bob", "name_taken"},         // Cherokee alone
	{"ᏴOᏴ", "bob", "name_mixed_scripts"}, // Cherokee with a Latin O
	{"bоb", "bob", "name_mixed_scripts"}, // a Cyrillic о
}

func TestLookAlikesOfAliceAndBobAreRefusedToAnotherAccount(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	h.JoinAs("alice", "")
	h.JoinAs("bob", "")
	mallory := h.JoinAs("mallory", "")
	for _, c := range lookAlikes {
		if got, want := chat.NameKey(c.name), chat.NameKey(c.of); got != want {
			t.Errorf("%+q: key %+q, want %+q, the key of %s", c.name, got, want, c.of)
		}
		if f := sendErr(t, h, mallory, fmt.Sprintf(`{"action":"setName","name":%q}`, c.name)); f.Code != c.code {
			t.Errorf("mallory renaming herself %+q beside %s: %+v; want %s", c.name, c.of, f, c.code)
		}
	}
	if s := state(t, h, mallory); s.You != "mallory" {
		t.Fatalf("mallory is now %+q", s.You)
	}
	// Asking for one when connecting gives another name, and says why.
	eve, resp := h.ConnectAs("eve", "eve", map[string]string{"name": "alic\u1eb9"})
	if resp.StatusCode != 200 {
		t.Fatalf("connect: %d", resp.StatusCode)
	}
	if s := state(t, h, eve); s.You != "eve" || s.Warning == nil || s.Warning.Code != "name_taken" {
		t.Fatalf("eve asking for alicẹ is %+q (warning %+v); want eve, told name_taken", s.You, s.Warning)
	}
}

func TestNamesOfOnlyMarksOrBlankSymbolsAreRefused(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.Unlimited)
	bob := h.Join("bob", "")
	for _, name := range []string{"\u0301", "\u0332\u0332\u0332", "\U0001D159", "\U00016FE4", "⠃⠕⠃", "-_-", "..."} {
		if got, p := chat.CleanName(name); p == nil || p.Code != "name_no_letter" {
			t.Errorf("%+q: cleaned to %+q, %+v; want name_no_letter", name, got, p)
		}
		if f := sendErr(t, h, bob, fmt.Sprintf(`{"action":"setName","name":%q}`, name)); f.Code != "name_no_letter" && f.Code != "name_invalid" {
			t.Errorf("bob renaming himself %+q: %+v; want it refused", name, f)
		}
	}
	for _, name := range []string{"e\u0332\u0332", "a\u0300\u0301\u0302\u0303\u0304"} {
		if got, p := chat.CleanName(name); p == nil || p.Code != "name_invalid" {
			t.Errorf("%+q (stacked marks): cleaned to %+q, %+v; want name_invalid", name, got, p)
		}
	}
}

// Names in sixteen scripts, and the mixes TR39 allows, pass with sign-in,
// each taken by its own account.
func TestNamesInSixteenScriptsPassWithSignIn(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	names := []string{
		"Zoë Ångström", "José María", "Ελένη", "Иван", "محمد", "דוד", "नमस्ते", "সুমন", "สมชาย", "李小龙",
		"さくら", "カタカナ", "山田たろう", "김민준", "ნინო", "Արամ", "አበበ", "தமிழ்", "ᏣᎳᎩ", "ཀུན་དགའ",
		"Tokyo東京", "Kim 민준", "Ana 🙂", "R2-D2", "Ольга-2",
	}
	for i, name := range names {
		if got, p := chat.CleanName(name); p != nil || got != name {
			t.Errorf("%q: cleaned to %q, %v", name, got, p)
			continue
		}
		id := h.JoinAs(fmt.Sprintf("user%d", i), "")
		h.Send(id, fmt.Sprintf(`{"action":"setName","name":%q}`, name))
		if s := state(t, h, id); s.You != name {
			t.Errorf("account %d renaming itself %q is %q", i, name, s.You)
		}
	}
}

func TestNamesArePreparedByThePRECISNicknameProfile(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"  Ana   Maria ": "Ana Maria", "Ａｌｉｃｅ": "Alice"} {
		if got, p := chat.CleanName(in); p != nil || got != want {
			t.Errorf("%+q: %+q, %v; want %+q", in, got, p, want)
		}
	}
	for _, name := range []string{"Ana\u200dMaria", "a\u0007b"} {
		if got, p := chat.CleanName(name); p == nil || p.Code != "name_invalid" {
			t.Errorf("%+q: %+q, %v; want name_invalid", name, got, p)
		}
	}
}

// A name given before the rule, which the rule now refuses, stays its
// account's: it comes back with it, nobody else takes it, and private
// messages reach it, until the account renames.
func TestANameHeldBeforeTheRuleKeepsWorkingUntilRenamed(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	ctx := context.Background()
	for held, next := range map[string]string{"⠃⠕⠃": "Boris", "Pаvel" /* a Cyrillic а */ : "Pavel"} {
		acct := "old-" + held
		if _, p := chat.CleanName(held); p == nil {
			t.Fatalf("%q passes the rule: not a name held before it", held)
		}
		if _, err := h.Store.ClaimAccountName(ctx, acct, "x"+acct, held); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Store.SetAccountName(ctx, acct, "", held, ""); err != nil {
			t.Fatal(err)
		}
		old, _ := h.ConnectAs(acct, "x"+acct, nil)
		if s := state(t, h, old); s.You != held {
			t.Fatalf("the account holding %q came back as %q", held, s.You)
		}
		bob := h.JoinAs("bob-"+held, "")
		h.Settle()
		inbox(t, h, old)
		h.Send(bob, fmt.Sprintf(`{"action":"sendPrivate","to":[%q],"message":"hi"}`, held))
		if f := only(t, inbox(t, h, old), "private"); f.Message != "hi" {
			t.Fatalf("the private message to %q: %+v", held, f)
		}
		inbox(t, h, bob)
		if f := sendErr(t, h, bob, fmt.Sprintf(`{"action":"setName","name":%q}`, held)); f.Code == "" {
			t.Fatalf("bob took %q", held)
		}
		h.Send(old, fmt.Sprintf(`{"action":"setName","name":%q}`, next))
		if s := state(t, h, old); s.You != next {
			t.Fatalf("the account renaming away from %q to %q is %q", held, next, s.You)
		}
	}
}

// Two people can never look the same: with sign-in, a message (live and in
// history) and the state carry the username beside the display name, so
// the page can show "Alicia (@alice)" (issue 22).
func TestMessagesCarryTheSendersUsernameBesideTheirName(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn, chattest.Unlimited)
	alice, _ := h.ConnectAs("sub-alice", "alice", nil)
	bob := h.JoinAs("bob", "")
	h.Settle()
	if s := state(t, h, alice); s.Username != "alice" {
		t.Fatalf("alice's state: username %q", s.Username)
	}
	h.Send(alice, `{"action":"setName","name":"Alicia"}`)
	state(t, h, alice)
	inbox(t, h, bob)
	h.Send(alice, `{"action":"sendPublic","message":"hello"}`)
	h.Send(alice, `{"action":"sendPrivate","to":["bob"],"message":"psst"}`)
	fs := inbox(t, h, bob)
	if pub := ofType(fs, "public"); len(pub) != 1 || pub[0].From != "Alicia" || pub[0].Username != "alice" {
		t.Fatalf("bob got %+v; want Alicia's message with her username, alice", pub)
	}
	if priv := ofType(fs, "private"); len(priv) != 1 || priv[0].Username != "alice" {
		t.Fatalf("bob got %+v; want her private message with her username", priv)
	}
	later := h.JoinAs("carol", "")
	s := state(t, h, later)
	if len(s.History) == 0 || s.History[len(s.History)-1].Username != "alice" {
		t.Fatalf("carol's history %+v; want alice's message with her username", s.History)
	}
}
