package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/auth/authtest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// act sends a moderation act from id and returns every frame id got.
func act(t *testing.T, h *chattest.Harness, id string, fields map[string]any) []frame {
	t.Helper()
	body, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	var fs []frame
	if resp := h.Send(id, string(body)); resp != "" {
		fs = append(fs, decode(t, []byte(resp)))
	}
	return append(fs, inbox(t, h, id)...)
}

// moderated returns the act records of a room's activity (room "": the
// environment's).
func moderated(t *testing.T, h *chattest.Harness, room string) []activityRecord {
	t.Helper()
	var out []activityRecord
	for _, a := range activityLog(t, h, room) {
		if a.Kind == chat.KindModerated {
			out = append(out, a)
		}
	}
	return out
}

// connectTo runs account's $connect to room and returns its status.
func connectTo(h *chattest.Harness, account, room string) int {
	_, resp := h.ConnectAs(account, account, map[string]string{"room": room})
	return resp.StatusCode
}

func closed(h *chattest.Harness, id string) bool { return slices.Contains(h.GW.Closed(), id) }

func TestAModeratorBansAnAccountFromTheRoomAndLiftsTheBan(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "ban-room"
	mod, bob, bobElsewhere := h.JoinModerator("mod", room), h.JoinAs("bob", room), h.JoinAs("bob", "ban-other")
	h.Settle()
	inbox(t, h, mod)
	got := only(t, act(t, h, mod, map[string]any{"action": "ban", "account": "bob", "reason": "spam", "ref": "b1"}), "moderated")
	if got.Act != "ban" || got.Account != "bob" || got.Room != room || got.Until != 0 || got.Reason != "spam" || got.Ref != "b1" {
		t.Errorf("the moderator's answer %+v", got)
	}
	if !closed(h, bob) || closed(h, bobElsewhere) || closed(h, mod) {
		t.Errorf("closed %v: want bob's connection in the room only", h.GW.Closed())
	}
	h.Disconnect(bob)
	if st := connectTo(h, "bob", room); st != 403 {
		t.Errorf("bob's $connect to the room he is banned from: %d, want 403", st)
	}
	if st := connectTo(h, "bob", "ban-other"); st != 200 {
		t.Errorf("bob's $connect to another room: %d, want 200", st)
	}
	recs := moderated(t, h, room)
	if len(recs) != 1 || recs[0].Act != "ban" || recs[0].From != "mod" || recs[0].FromAccount != "mod" ||
		!slices.Equal(recs[0].ToAccounts, []string{"bob"}) || recs[0].Reason != "spam" || recs[0].TS == 0 {
		t.Errorf("the activity %+v, want the ban: who, whom, why, when", recs)
	}
	inbox(t, h, mod) // bob's left
	lifted := only(t, act(t, h, mod, map[string]any{"action": "unban", "account": "bob"}), "moderated")
	if lifted.Act != "unban" || lifted.Account != "bob" {
		t.Errorf("unban answered %+v", lifted)
	}
	if st := connectTo(h, "bob", room); st != 200 {
		t.Errorf("bob's $connect after the unban: %d, want 200", st)
	}
	if recs := moderated(t, h, room); len(recs) != 2 || recs[1].Act != "unban" {
		t.Errorf("the activity after the unban %+v", recs)
	}
}

// A ban with minutes ends by itself: bob is refused until then, then let in.
func TestABanWithAnExpiryEndsByItself(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "ban-expiry"
	mod := h.JoinModerator("mod", room)
	h.JoinAs("bob", "ban-expiry-elsewhere")
	before := h.Now()
	got := only(t, act(t, h, mod, map[string]any{"action": "ban", "account": "bob", "minutes": 30}), "moderated")
	if until := time.UnixMilli(got.Until); until.Before(before.Add(30*time.Minute)) || until.After(h.Now().Add(30*time.Minute)) {
		t.Errorf("until %v, want 30 minutes from now", until)
	}
	if recs := moderated(t, h, room); len(recs) != 1 || recs[0].Until != got.Until {
		t.Errorf("the activity %+v, want the ban's until %d", recs, got.Until)
	}
	if st := connectTo(h, "bob", room); st != 403 {
		t.Fatalf("bob during the ban: %d, want 403", st)
	}
	h.Advance(30*time.Minute + time.Second)
	if st := connectTo(h, "bob", room); st != 200 {
		t.Errorf("bob after the ban ended: %d, want 200", st)
	}
}

// Each act of a member is forbidden and changes nothing: no activity, no
// close, bob sends as before.
func TestAMemberIsForbiddenEveryModerationAct(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "ban-forbidden"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	for _, a := range []map[string]any{
		{"action": "ban", "account": "bob"}, {"action": "ban", "account": "bob", "scope": "env"},
		{"action": "unban", "account": "bob"}, {"action": "mute", "account": "bob", "minutes": 5},
		{"action": "unmute", "account": "bob"}, {"action": "kick", "account": "bob"},
	} {
		inbox(t, h, alice)
		if e := only(t, act(t, h, alice, a), "error"); e.Code != contract.CodeForbidden || e.Action != a["action"] {
			t.Errorf("%v by a member: %+v", a, e)
		}
	}
	if len(h.GW.Closed()) != 0 || len(moderated(t, h, room)) != 0 || len(moderated(t, h, "")) != 0 {
		t.Errorf("closed %v, activity %v", h.GW.Closed(), moderated(t, h, room))
	}
	say(t, h, bob, "still here", alice)
	if st := connectTo(h, "bob", room); st != 200 {
		t.Errorf("bob's $connect: %d", st)
	}
}

func TestAModerationActsBadInputHasItsOwnCode(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	mod := h.JoinModerator("mod", "ban-input")
	h.JoinAs("bob", "ban-input")
	h.Settle()
	for what, tc := range map[string]struct {
		fields map[string]any
		code   string
	}{
		"an unknown account":     {map[string]any{"action": "ban", "account": "nobody"}, contract.CodeUnknownAccount},
		"an unknown mute":        {map[string]any{"action": "mute", "account": "nobody", "minutes": 5}, contract.CodeUnknownAccount},
		"an unknown kick":        {map[string]any{"action": "kick", "account": "nobody"}, contract.CodeUnknownAccount},
		"zero minutes":           {map[string]any{"action": "ban", "account": "bob", "minutes": 0}, contract.CodeDurationInvalid},
		"a ban over a year":      {map[string]any{"action": "ban", "account": "bob", "minutes": contract.BanMinutesMax + 1}, contract.CodeDurationInvalid},
		"a mute over a week":     {map[string]any{"action": "mute", "account": "bob", "minutes": contract.MuteMinutesMax + 1}, contract.CodeDurationInvalid},
		"part of a minute":       {map[string]any{"action": "mute", "account": "bob", "minutes": 1.5}, contract.CodeDurationInvalid},
		"a mute without minutes": {map[string]any{"action": "mute", "account": "bob"}, contract.CodeMissingField},
		"a reason too long":      {map[string]any{"action": "ban", "account": "bob", "reason": strings.Repeat("x", contract.ReasonMax+1)}, contract.CodeReasonTooLong},
		"another scope":          {map[string]any{"action": "ban", "account": "bob", "scope": "world"}, contract.CodeScopeInvalid},
	} {
		inbox(t, h, mod)
		if e := only(t, act(t, h, mod, tc.fields), "error"); e.Code != tc.code {
			t.Errorf("%s: %s %q, want %s", what, e.Code, e.Message, tc.code)
		}
	}
	if recs := moderated(t, h, "ban-input"); len(recs) != 0 {
		t.Errorf("activity after refused acts: %+v", recs)
	}
}

// A connection of a banned account that is still open (it got in while
// the ban was being made, or its close failed) is answered banned at its
// next frame and closed.
func TestABannedAccountsOpenConnectionIsClosedAtItsNextFrame(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "ban-late"
	bob := h.JoinAs("bob", room)
	h.Settle()
	ban := chat.Record{Kind: chat.KindModerated, ID: "01JAAAAAAAAAAAAAAAAAAAAAAA", TS: h.Now(), Room: room, Act: "ban", ToAccounts: []string{"bob"}}
	if _, err := h.Store.Sanction(context.Background(), "bob", chat.Sanction{Kind: chat.SanctionBan, Room: room}, false, ban); err != nil {
		t.Fatal(err)
	}
	var fs []frame
	if resp := h.Send(bob, `{"action":"sendPublic","message":"let me in"}`); resp != "" {
		fs = append(fs, decode(t, []byte(resp)))
	}
	if !closed(h, bob) {
		t.Fatalf("bob's connection is open after a frame while banned (got %v)", types(fs))
	}
	for _, m := range historyOf(t, h, room) {
		if m == "let me in" {
			t.Error("the banned account's message was recorded")
		}
	}
}

// historyOf returns a room's public messages' texts, read by a new member.
func historyOf(t *testing.T, h *chattest.Harness, room string) []string {
	t.Helper()
	id := h.JoinAs("reader", room)
	var out []string
	for _, e := range state(t, h, id).History {
		out = append(out, e.Message)
	}
	return out
}

// Through the authorizer with tokens the local issuer signed: the
// moderator's token has the moderators group, bob's does not; an
// environment ban closes bob's connections and the authorizer refuses
// his next token until the ban is lifted.
func TestAnEnvironmentBanIsRefusedByTheAuthorizer(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	modClaims := s.pool.Claims(s.Now(), "sub-mod", "mod")
	modClaims["cognito:groups"] = []string{contract.ModeratorsGroup}
	mod := s.connectWithToken(t, authtest.Sign(s.pool.SigningKey(), modClaims), "env-a")
	bobToken := func() string { return authtest.Sign(s.pool.SigningKey(), s.pool.Claims(s.Now(), "sub-bob", "bob")) }
	bobA, bobB := s.connectWithToken(t, bobToken(), "env-a"), s.connectWithToken(t, bobToken(), "env-b")
	s.Settle()
	inbox(t, s.Harness, mod)
	got := only(t, act(t, s.Harness, mod, map[string]any{"action": "ban", "account": "sub-bob", "scope": "env", "reason": "abuse"}), "moderated")
	if got.Room != "" || got.Act != "ban" {
		t.Errorf("an environment ban answered %+v", got)
	}
	if !closed(s.Harness, bobA) || !closed(s.Harness, bobB) || closed(s.Harness, mod) {
		t.Errorf("closed %v, want both of bob's", s.GW.Closed())
	}
	if recs := moderated(t, s.Harness, ""); len(recs) != 1 || recs[0].From != "mod" || recs[0].Reason != "abuse" {
		t.Errorf("the environment's activity %+v", recs)
	}
	resp, err := s.Service.Authorize(context.Background(), authorizerEvent(chattest.NewConnID(), bobToken()))
	if err != nil || statement(t, resp).Effect != "Deny" {
		t.Fatalf("the authorizer let a banned account in: %+v %v", resp, err)
	}
	if got := authFailures(t, s.Metrics.String()); got[string(chat.AuthBanned)] != 1 {
		t.Errorf("AuthFailures %v, want one %s", got, chat.AuthBanned)
	}
	only(t, act(t, s.Harness, mod, map[string]any{"action": "unban", "account": "sub-bob", "scope": "env"}), "moderated")
	s.connectWithToken(t, bobToken(), "env-a")
}

// A token signed by a key not the pool's, claiming the moderators group,
// is refused by the authorizer: no connection, no moderator.
func TestAForgedGroupsClaimIsRefusedWithTheToken(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	forger := authtest.NewPool(t)
	claims := s.pool.Claims(s.Now(), "sub-eve", "eve")
	claims["cognito:groups"] = []string{contract.ModeratorsGroup}
	resp, err := s.Service.Authorize(context.Background(), authorizerEvent("c1", authtest.Sign(forger.SigningKey(), claims)))
	if err != nil || statement(t, resp).Effect != "Deny" || resp.Context[contract.AuthContextModerator] != nil {
		t.Fatalf("a forged moderators claim: %+v %v", resp, err)
	}
}

// connectWithToken runs the authorizer with token, then the $connect with
// its context, as API Gateway does, and fails unless both let it in.
func (s *signIn) connectWithToken(t *testing.T, token, room string) string {
	t.Helper()
	id := chattest.NewConnID()
	resp, err := s.Service.Authorize(context.Background(), authorizerEvent(id, token))
	if err != nil || statement(t, resp).Effect != "Allow" {
		t.Fatalf("the authorizer refused: %+v %v", resp, err)
	}
	s.SignInWith(id, resp.Context)
	if st := s.Invoke(context.Background(), id, contract.RouteConnect, "", map[string]string{"room": room}); st.StatusCode != 200 {
		t.Fatalf("$connect: %d", st.StatusCode)
	}
	s.GW.Open(id)
	return id
}

// A ban made while bob's $connect runs, after it read his account and
// before it puts his record: the put meets the device version the ban
// moved, reads the item again and finds the ban: 403, nothing recorded.
func TestABanMadeDuringAConnectRefusesIt(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "ban-race"
	h.JoinAs("bob", "ban-race-elsewhere") // his account's item exists
	h.Settle()
	id := chattest.NewConnID()
	banned := false
	var failed error
	h.DynamoDB.Inject(ddbproxy.Faults{Before: func(w ddbproxy.Write) {
		if banned || w.Op != "TransactWriteItems" || !bytes.Contains(w.Body, []byte(id)) {
			return
		}
		banned = true
		ban := chat.Record{Kind: chat.KindModerated, ID: "01JAAAAAAAAAAAAAAAAAAAAAAB", TS: h.Now(), Room: room, Act: "ban", ToAccounts: []string{"bob"}}
		_, failed = h.Store.Sanction(context.Background(), "bob", chat.Sanction{Kind: chat.SanctionBan, Room: room}, false, ban)
	}})
	resp := h.ConnectAsID(id, "bob", "bob", map[string]string{"room": room})
	h.DynamoDB.Restore()
	if !banned || failed != nil {
		t.Fatalf("the ban was not made during the $connect (%v)", failed)
	}
	if resp.StatusCode != 403 {
		t.Errorf("a $connect the ban met: %d, want 403", resp.StatusCode)
	}
	if _, err := h.Store.GetConnection(context.Background(), id); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("its record: %v, want none", err)
	}
}
