package chat_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
)

// operate sends an operator event, as `aws lambda invoke` does, through the
// function's one handler, and returns its answer.
func operate(t *testing.T, h *chattest.Harness, req contract.OperatorRequest) contract.OperatorAnswer {
	t.Helper()
	return operateCtx(t, context.Background(), h, req)
}

func operateCtx(t *testing.T, ctx context.Context, h *chattest.Harness, req contract.OperatorRequest) contract.OperatorAnswer {
	t.Helper()
	ev, _ := json.Marshal(map[string]any{contract.OperatorEventKey: req})
	out, err := h.Service.Invoke(ctx, ev)
	if err != nil {
		t.Fatalf("the operator event was answered with a function error: %v", err)
	}
	data, _ := json.Marshal(out)
	var a contract.OperatorAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatalf("the answer %s is not an operator answer: %v", data, err)
	}
	return a
}

// dave signs up and connects twice in the lobby beside bob; he sends a
// public message and a private one to bob.
func daveWithBob(t *testing.T) (h *chattest.Harness, bob string, daves []string) {
	t.Helper()
	h = signUps(t)
	if e := signUp(t, h, "PreSignUp_SignUp", testPool, "dave"); e != "" {
		t.Fatal(e)
	}
	bob, _ = h.ConnectAs("sub-bob", "bob", map[string]string{"room": "lobby"})
	for range 2 {
		d, _ := h.ConnectAs("sub-dave", "dave", map[string]string{"room": "lobby"})
		daves = append(daves, d)
	}
	h.Settle()
	h.Send(daves[0], `{"action":"sendPublic","message":"hello from dave"}`)
	h.Send(daves[0], `{"action":"sendPrivate","to":["bob"],"message":"psst"}`)
	h.Settle()
	inbox(t, h, bob)
	return h, bob, daves
}

// An operator deletes dave: both his connections close, the lobby is told
// he left, his name is free at once (mallory becomes dave), his old token
// admits nothing, and his messages stay under "dave" without his account.
func TestAnOperatorDeletesDaveAndAnotherAccountTakesHisNameAtOnce(t *testing.T) {
	t.Parallel()
	h, bob, daves := daveWithBob(t)
	a := operate(t, h, contract.OperatorRequest{Op: contract.OpDeleteAccount, Username: "dave", Reason: "asked by e-mail"})
	if a.Result != contract.ResultDone || a.Account != "sub-dave" || a.Closed != 2 || !slices.Equal(a.Released, []string{"dave"}) {
		t.Fatalf("deleteAccount answered %+v, want done for sub-dave, 2 closed, dave released", a)
	}
	for _, d := range daves {
		if !slices.Contains(h.GW.Closed(), d) {
			t.Errorf("dave's connection %s was not closed", d)
		}
	}
	if !slices.ContainsFunc(inbox(t, h, bob), func(f frame) bool { return f.Type == "left" && f.Name == "dave" }) {
		t.Error("bob was not told dave left")
	}
	mallory, _ := h.ConnectAs("sub-mallory", "mallory", map[string]string{"room": "lobby", "name": "dave"})
	if s := state(t, h, mallory); s.You != "dave" {
		t.Errorf("another account asking for dave after the deletion is %q, want dave", s.You)
	}
	if _, resp := h.ConnectAs("sub-dave", "dave", map[string]string{"room": "lobby"}); resp.StatusCode != 403 {
		t.Errorf("the deleted account's token connected: %d, want 403", resp.StatusCode)
	}
	s := state(t, h, bob)
	for _, m := range s.History {
		if m.From == "dave" && m.Message == "hello from dave" && (m.Account != "" || m.Username != "") {
			t.Errorf("dave's message still names his account: %+v", m)
		}
	}
	if !slices.ContainsFunc(s.History, func(m frame) bool { return m.Message == "hello from dave" && m.From == "dave" }) {
		t.Errorf("dave's message is not in the history under dave: %+v", s.History)
	}
	if recs, _, err := h.Store.PrivateHistory(context.Background(), "lobby", chat.Reader(chat.Connection{AccountID: "sub-dave"}), "", 50); err != nil || len(recs) != 0 {
		t.Errorf("dave's private-history copies: %d left (%v), want none", len(recs), err)
	}
	if recs, _, _ := h.Store.PrivateHistory(context.Background(), "lobby", chat.Reader(chat.Connection{AccountID: "sub-bob"}), "", 50); len(recs) != 1 || recs[0].FromAccount != "" {
		t.Errorf("bob's copy of dave's private message: %+v, want one without dave's account", recs)
	}
	if acct, err := h.Store.Account(context.Background(), "sub-dave"); err != nil || acct.Deleted.IsZero() || acct.Name != "" || len(acct.Rooms) != 0 {
		t.Errorf("dave's account item: %+v (%v), want a tombstone with nothing of his", acct, err)
	}
	if again := operate(t, h, contract.OperatorRequest{Op: contract.OpDeleteAccount, Username: "dave", Account: "sub-dave"}); again.Result != contract.ResultAlready {
		t.Errorf("deleting dave again answered %+v, want already", again)
	}
	// erin signed up and never connected: her reservation alone is released.
	if e := signUp(t, h, "PreSignUp_SignUp", testPool, "erin"); e != "" {
		t.Fatal(e)
	}
	if a := operate(t, h, contract.OperatorRequest{Op: contract.OpDeleteAccount, Username: "erin"}); a.Result != contract.ResultDone || !slices.Equal(a.Released, []string{"erin"}) {
		t.Errorf("deleting erin, who never connected, answered %+v, want her reservation released", a)
	}
	if e := signUp(t, h, "PreSignUp_SignUp", testPool, "Erin"); e != "" {
		t.Errorf("Erin (a look-alike of erin) after erin's deletion: %s", e)
	}
	ops := 0
	for _, r := range activityLog(t, h, "") {
		if r.Kind == chat.KindOperator && r.From == chat.OperatorWho && r.Message == contract.OpDeleteAccount &&
			slices.Equal(r.To, []string{"dave"}) && r.Reason == "asked by e-mail" {
			ops++
		}
	}
	if ops != 1 {
		t.Errorf("the deletion is recorded %d times as the operator's act, want once", ops)
	}
}

// The recreated dave (a new sub) gets his username back once the old
// account was deleted.
func TestARecreatedAccountGetsItsUsernameBack(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	if e := signUp(t, h, "PreSignUp_AdminCreateUser", testPool, "dave"); e != "" {
		t.Fatal(e)
	}
	old, _ := h.ConnectAs("sub-dave-1", "dave", nil)
	if s := state(t, h, old); s.You != "dave" {
		t.Fatalf("dave is %q", s.You)
	}
	if a := operate(t, h, contract.OperatorRequest{Op: contract.OpDeleteAccount, Username: "dave"}); a.Result != contract.ResultDone {
		t.Fatalf("deleteAccount answered %+v", a)
	}
	if e := signUp(t, h, "PreSignUp_AdminCreateUser", testPool, "dave"); e != "" {
		t.Fatalf("dave made again: %s", e)
	}
	again, _ := h.ConnectAs("sub-dave-2", "dave", nil)
	if s := state(t, h, again); s.You != "dave" || s.Warning != nil {
		t.Fatalf("the recreated dave is %q (warning %+v), want dave", s.You, s.Warning)
	}
}

// Dave deletes his account from his page: his page is answered
// accountDeleted, then every connection of his closes, and his name is
// free.
func TestDaveDeletesHisAccountFromThePage(t *testing.T) {
	t.Parallel()
	h, bob, daves := daveWithBob(t)
	if resp := h.Send(daves[0], `{"action":"deleteAccount","ref":"d1"}`); resp != "" {
		t.Fatalf("deleteAccount answered %s", resp)
	}
	got := inbox(t, h, daves[0])
	if !slices.ContainsFunc(got, func(f frame) bool { return f.Type == "accountDeleted" && f.Ref == "d1" }) {
		t.Fatalf("dave's page got %v, want accountDeleted with its ref", types(got))
	}
	for _, d := range daves {
		if !slices.Contains(h.GW.Closed(), d) {
			t.Errorf("dave's connection %s was not closed", d)
		}
	}
	carol, _ := h.ConnectAs("sub-carol", "carol", map[string]string{"room": "lobby"})
	h.Send(carol, `{"action":"setName","name":"dave"}`)
	if s := state(t, h, carol); s.You != "dave" {
		t.Errorf("carol is %q after renaming to dave, whose account is deleted", s.You)
	}
	if s := state(t, h, bob); slices.Contains(s.Members, "dave") && s.Count != len(s.Members) {
		t.Errorf("bob's state after the deletion: %q counted %d", s.Members, s.Count)
	}
	open, _ := h.Connect(map[string]string{"room": "lobby", "name": "x"})
	if f := sendErr(t, h, open, `{"action":"deleteAccount"}`); f.Code != contract.CodeForbidden {
		t.Errorf("deleteAccount without sign-in answered %+v, want forbidden", f)
	}
}

// An operator closes every connection of alice's: three devices in two
// rooms.
func TestAnOperatorClosesAlicesThreeDevices(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	var ids []string
	for _, room := range []string{"lobby", "lobby", "kitchen"} {
		id, _ := h.ConnectAs("sub-alice", "alice", map[string]string{"room": room})
		ids = append(ids, id)
	}
	bob, _ := h.ConnectAs("sub-bob", "bob", map[string]string{"room": "lobby"})
	h.Settle()
	a := operate(t, h, contract.OperatorRequest{Op: contract.OpCloseConnections, Username: "alice", Reason: "spam"})
	if a.Result != contract.ResultDone || a.Closed != 3 || a.Account != "sub-alice" {
		t.Fatalf("closeConnections answered %+v, want done, 3 closed", a)
	}
	for _, id := range ids {
		if !slices.Contains(h.GW.Closed(), id) {
			t.Errorf("alice's connection %s is open", id)
		}
	}
	h.Settle()
	if s := state(t, h, bob); slices.Contains(s.Members, "alice") || s.Count != 1 {
		t.Errorf("bob's lobby after the close: %q counted %d", s.Members, s.Count)
	}
}

// An operator removes bob's message: the room is told, by operator, and
// the record keeps it removed.
func TestAnOperatorRemovesAMessage(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	bob, _ := h.ConnectAs("sub-bob", "bob", map[string]string{"room": "lobby"})
	alice, _ := h.ConnectAs("sub-alice", "alice", map[string]string{"room": "lobby"})
	h.Settle()
	h.Send(bob, `{"action":"sendPublic","message":"buy watches"}`)
	id := only(t, inbox(t, h, alice), "public").ID
	req := contract.OperatorRequest{Op: contract.OpRemoveMessage, Room: "lobby", Message: id, Reason: "spam"}
	if a := operate(t, h, req); a.Result != contract.ResultDone {
		t.Fatalf("removeMessage answered %+v", a)
	}
	if f := only(t, inbox(t, h, alice), "removed"); f.By != chat.RemovedByOperator || f.Reason != "spam" || f.ID != id {
		t.Errorf("alice was told %+v", f)
	}
	if msg, err := h.Store.Message(context.Background(), "lobby", id); err != nil || msg.Removed == nil || msg.Removed.By != chat.RemovedByOperator {
		t.Errorf("the record: %+v (%v)", msg.Removed, err)
	}
	if a := operate(t, h, req); a.Result != contract.ResultAlready {
		t.Errorf("removing it again answered %+v, want already", a)
	}
	if a := operate(t, h, contract.OperatorRequest{Op: contract.OpRemoveMessage, Room: "lobby", Message: "01ARZ3NDEKTSV4RRFFQ69G5FAV"}); a.Error != contract.OpErrNotFound {
		t.Errorf("removing no message answered %+v, want not_found", a)
	}
}

// Every answer has a stable code: unknown operations, bad requests,
// unknown usernames and accounts.
func TestOperatorEventsAnswerStableCodes(t *testing.T) {
	t.Parallel()
	h := signUps(t)
	for _, c := range []struct {
		req  contract.OperatorRequest
		code string
	}{
		{contract.OperatorRequest{Op: "dropTables"}, contract.OpErrUnknownOperation},
		{contract.OperatorRequest{Op: contract.OpBan, Username: "nobody"}, contract.OpErrNotFound},
		{contract.OperatorRequest{Op: contract.OpBan, Account: "never-connected"}, contract.OpErrNotFound},
		{contract.OperatorRequest{Op: contract.OpBan, Account: "a", Until: 1}, contract.OpErrBadRequest},
		{contract.OperatorRequest{Op: contract.OpUnban, Account: "a", Until: 4102444800000}, contract.OpErrBadRequest},
		{contract.OperatorRequest{Op: contract.OpCloseConnections}, contract.OpErrBadRequest},
		{contract.OperatorRequest{Op: contract.OpDeleteAccount, Account: "sub-x"}, contract.OpErrBadRequest},
		{contract.OperatorRequest{Op: contract.OpCloseConnections, Username: "nobody"}, contract.OpErrNotFound},
		{contract.OperatorRequest{Op: contract.OpRemoveMessage, Room: "lobby", Message: "nope"}, contract.OpErrBadRequest},
		{contract.OperatorRequest{Op: contract.OpCloseConnections, Account: "a", Reason: "\x00"}, contract.OpErrBadRequest},
	} {
		if a := operate(t, h, c.req); a.Error != c.code || a.Result != "" || a.Op != c.req.Op {
			t.Errorf("%+v answered %+v, want error %s", c.req, a, c.code)
		}
	}
	open := chattest.New(t)
	if a := operate(t, open, contract.OperatorRequest{Op: contract.OpCloseConnections, Account: "a"}); a.Error != contract.OpErrSignInOff {
		t.Errorf("without sign-in closeConnections answered %+v", a)
	}
}
