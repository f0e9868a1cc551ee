package chat

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
)

// The largest frames that list members, built from the dearest name the
// validators accept, the longest room, a long account id and cursor: each
// stays inside API Gateway's 128 KB however big the room.
func TestMemberListFramesStayInsideTheLimitAtAnyRoomSize(t *testing.T) {
	t.Parallel()
	name := worstName(t)
	room := strings.Repeat("r", 32)
	account := strings.Repeat("a", 128) // a Cognito sub is 36; room to spare
	// A list carries a username only of a name's shape (listedUsername):
	// at worst the dearest name again.
	username := name
	cursor := strings.Repeat("c", 86) // a 64-byte connection id in base64
	const ts = 9_999_999_999_999

	page := make([]MemberEntry, MembersPageMax)
	for i := range page {
		page[i] = MemberEntry{Name: name, Username: username}
	}
	// Only the caller's entry has an account (withCaller): the room index
	// does not project it.
	page[0].Account = account
	names := make([]string, StateMembersMax)
	usernames := make([]string, StateMembersMax)
	for i := range names {
		names[i], usernames[i] = name, username
	}
	live := make([]string, 2*PresenceLiveMax)
	for i := range live {
		live[i] = name
	}
	state := stateFrame{Type: KindState, Room: room, You: name, Members: names, Usernames: usernames, Count: 1 << 30, MembersCursor: cursor,
		History: []json.RawMessage{}, Limits: limits, Resume: strings.Repeat("t", 22),
		Warning: &warning{Code: contract.CodeNameTaken, Message: strings.Repeat("w", 300)}}
	for _, f := range []struct {
		kind string
		data []byte
	}{
		{"memberPage", encode(memberPageFrame{Type: KindMemberPage, Room: room, Count: 1 << 30, Members: page, Cursor: cursor, Ref: worstRef(t)})},
		{"state without history", encode(state)},
		{"members", encode(membersFrame{Type: KindMembers, Room: room, Members: live, Gone: live, TS: ts, Count: PresenceLiveMax})},
		{"presence", encode(countFrame{Type: KindPresence, Room: room, Count: 1 << 30, TS: ts})},
	} {
		t.Logf("the largest %s frame: %d bytes", f.kind, len(f.data))
		if len(f.data) > gatewayMessageMax {
			t.Errorf("the largest %s frame is %d bytes, over API Gateway's 128 KB", f.kind, len(f.data))
		}
	}
	// The state's history fills up to StateMaxBytes, after the members.
	if len(encode(state)) > StateMaxBytes/4 {
		t.Errorf("a state's member list leaves too little room for history: %d bytes", len(encode(state)))
	}
}
