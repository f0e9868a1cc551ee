package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/auth/authtest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// say sends a public message from id and returns its id, every inbox drained.
func say(t *testing.T, h *chattest.Harness, id, text string, room ...string) string {
	t.Helper()
	h.Send(id, fmt.Sprintf(`{"action":"sendPublic","message":%q}`, text))
	var msg string
	for _, f := range inbox(t, h, id) {
		if f.Type == "public" && f.Message == text {
			msg = f.ID
		}
	}
	if msg == "" {
		t.Fatalf("%q was not echoed", text)
	}
	for _, other := range room {
		inbox(t, h, other)
	}
	return msg
}

// removeFrom sends remove and returns what the caller got.
func removeFrom(t *testing.T, h *chattest.Harness, id, msg, reason string) []frame {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"action": "remove", "id": msg, "reason": reason, "ref": "rm"})
	var fs []frame
	if resp := h.Send(id, string(body)); resp != "" {
		fs = append(fs, decode(t, []byte(resp)))
	}
	return append(fs, inbox(t, h, id)...)
}

// historyEntry is the state's history entry of msg.
func historyEntry(t *testing.T, h *chattest.Harness, id, msg string) frame {
	t.Helper()
	for _, e := range state(t, h, id).History {
		if e.ID == msg {
			return e
		}
	}
	t.Fatalf("%s is not in the history", msg)
	return frame{}
}

func removals(t *testing.T, h *chattest.Harness, room string) int {
	t.Helper()
	n := 0
	for _, a := range activityLog(t, h, room) {
		if a.Kind == chat.KindRemoved {
			n++
		}
	}
	return n
}

func TestASenderRemovesTheirMessageAndTheRoomIsToldAndHistoryGivesTheRemoval(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "rm-own"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	msg := say(t, h, alice, "oops", bob)
	got := only(t, removeFrom(t, h, alice, msg, "typo"), "removed")
	if got.ID != msg || got.By != chat.RemovedBySender || got.Reason != "typo" || got.Ref != "rm" || got.At == 0 {
		t.Errorf("alice's removed frame %+v", got)
	}
	told := only(t, inbox(t, h, bob), "removed")
	if told.ID != msg || told.By != chat.RemovedBySender || told.Ref != "" || told.At != got.At {
		t.Errorf("bob was told %+v", told)
	}
	e := historyEntry(t, h, bob, msg)
	if e.Message != "" || e.Removed == nil || e.Removed.By != chat.RemovedBySender || e.Removed.Reason != "typo" || e.Removed.At != got.At {
		t.Errorf("history gives %+v (removal %+v), want the removal without the text", e, e.Removed)
	}
	if n := removals(t, h, room); n != 1 {
		t.Errorf("the activity log has %d removals, want 1", n)
	}
}

func TestAMemberRemovingAnothersMessageIsForbiddenAndNothingChanges(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "rm-forbidden"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	msg := say(t, h, bob, "mine", alice)
	e := only(t, removeFrom(t, h, alice, msg, ""), "error")
	if e.Code != contract.CodeForbidden || e.Ref != "rm" || e.Action != "remove" {
		t.Errorf("alice removing bob's message: %+v", e)
	}
	if fs := inbox(t, h, bob); len(fs) != 0 {
		t.Errorf("bob was sent %v", types(fs))
	}
	if got := historyEntry(t, h, alice, msg); got.Message != "mine" || got.Removed != nil {
		t.Errorf("history after a forbidden remove: %+v", got)
	}
	if n := removals(t, h, room); n != 0 {
		t.Errorf("the activity log has %d removals", n)
	}
}

func TestAModeratorRemovesAnyonesMessageAndARepeatTellsTheSameRemovalOnce(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "rm-mod"
	alice, mod := h.JoinAs("alice", room), h.JoinModerator("mod", room)
	h.Settle()
	if st := state(t, h, mod); !slices.Equal(st.Roles, []string{contract.RoleModerator}) {
		t.Errorf("the moderator's roles %v", st.Roles)
	}
	if st := state(t, h, alice); len(st.Roles) != 0 {
		t.Errorf("alice's roles %v", st.Roles)
	}
	msg := say(t, h, alice, "spam spam", mod)
	first := only(t, removeFrom(t, h, mod, msg, "spam"), "removed")
	if first.By != chat.RemovedByModerator || first.Reason != "spam" {
		t.Errorf("the moderator's removed frame %+v", first)
	}
	only(t, inbox(t, h, alice), "removed")
	again := only(t, removeFrom(t, h, mod, msg, "other"), "removed")
	if again.By != first.By || again.Reason != first.Reason || again.At != first.At {
		t.Errorf("the repeat told %+v, the first %+v", again, first)
	}
	if told := only(t, inbox(t, h, alice), "removed"); told.At != first.At {
		t.Errorf("alice was told the repeat as %+v", told)
	}
	// alice's own, already removed by the moderator: the same outcome.
	if got := only(t, removeFrom(t, h, alice, msg, ""), "removed"); got.By != chat.RemovedByModerator || got.At != first.At {
		t.Errorf("alice's remove of her removed message: %+v", got)
	}
	if n := removals(t, h, room); n != 1 {
		t.Errorf("the activity log has %d removals, want 1", n)
	}
	for _, a := range activityLog(t, h, room) {
		if a.Kind == chat.KindRemoved && (a.From != "mod" || a.Reason != "spam") {
			t.Errorf("the removal's activity %+v", a)
		}
	}
}

func TestRemovingNoPublicMessageOfTheRoomIsNotFound(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	mod, other := h.JoinModerator("mod", "rm-nf"), h.JoinAs("bob", "elsewhere")
	h.Settle()
	elsewhere := say(t, h, other, "not in your room")
	h.Send(other, `{"action":"sendPrivate","to":["bob"],"message":"to myself"}`)
	var private string
	for _, f := range inbox(t, h, other) {
		if f.Type == "private" {
			private = f.ID
		}
	}
	for what, id := range map[string]string{"no such id": ulid.Make().String(), "another room's": elsewhere,
		"a private message": private, "not an id": "hello"} {
		if e := only(t, removeFrom(t, h, mod, id, ""), "error"); e.Code != contract.CodeNotFound {
			t.Errorf("%s: %+v", what, e)
		}
	}
}

// Without sign-in nobody is a moderator, and "your own" is the connection's.
func TestWithoutSignInOnlyTheSendingConnectionRemovesAMessage(t *testing.T) {
	t.Parallel()
	h := chattest.New(t)
	const room = "rm-open"
	ann, ben := h.Join("Ann", room), h.Join("Ben", room)
	h.Settle()
	msg := say(t, h, ann, "hello", ben)
	if e := only(t, removeFrom(t, h, ben, msg, ""), "error"); e.Code != contract.CodeForbidden {
		t.Errorf("ben removing ann's: %+v", e)
	}
	only(t, removeFrom(t, h, ann, msg, ""), "removed")
	only(t, inbox(t, h, ben), "removed")
}

// The authorizer passes the verified token's moderators group on as
// "moderator": "true" in the context API Gateway gives every event of the
// connection; a member's context has no such key.
func TestTheAuthorizerPassesTheModeratorsGroupOnInItsContext(t *testing.T) {
	t.Parallel()
	s := newSignIn(t)
	for _, tc := range []struct {
		groups []string
		want   any
	}{{[]string{contract.ModeratorsGroup}, "true"}, {nil, nil}} {
		claims := s.pool.Claims(s.Now(), "sub-1", "alice")
		if tc.groups != nil {
			claims["cognito:groups"] = tc.groups
		}
		resp, err := s.Service.Authorize(context.Background(), authorizerEvent("c1", authtest.Sign(s.pool.SigningKey(), claims)))
		if err != nil || statement(t, resp).Effect != "Allow" {
			t.Fatalf("groups %v: %+v %v", tc.groups, resp, err)
		}
		if got := resp.Context[contract.AuthContextModerator]; got != tc.want {
			t.Errorf("groups %v: context %v, want moderator %v", tc.groups, resp.Context, tc.want)
		}
	}
}

// DynamoDB applies the removal's transaction and answers every attempt
// with 500 (the SDK's retries carry its ClientRequestToken): the item
// carries this call's token, so the removal is this call's: answered,
// told and logged once.
func TestARemovalAppliedAndAnsweredWithErrorsIsTheCallersOnce(t *testing.T) {
	t.Parallel()
	h := chattest.New(t, chattest.SignedIn)
	const room = "rm-500"
	alice, bob := h.JoinAs("alice", room), h.JoinAs("bob", room)
	h.Settle()
	msg := say(t, h, alice, "flaky", bob)
	var failed atomic.Int32
	h.DynamoDB.Inject(ddbproxy.Faults{ApplyThenFail: func(w ddbproxy.Write) bool {
		if w.Op == "TransactWriteItems" && bytes.Contains(w.Body, []byte("removedToken")) {
			failed.Add(1)
			return true
		}
		return false
	}})
	got := only(t, removeFrom(t, h, alice, msg, "oops"), "removed")
	h.DynamoDB.Restore()
	if failed.Load() == 0 {
		t.Fatal("no removal transaction was answered with an error")
	}
	if got.By != chat.RemovedBySender || got.Reason != "oops" {
		t.Errorf("alice's removed frame %+v", got)
	}
	only(t, inbox(t, h, bob), "removed")
	if n := removals(t, h, room); n != 1 {
		t.Errorf("the activity log has %d removals, want 1", n)
	}
}
