package chat_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// nameLength is one case of contract/testdata/name_lengths.json, which the
// page's unit test (frontend/test/namelength.test.ts) reads too: the page
// and the server agree on which names fit (docs/protocol.md, Limits).
type nameLength struct {
	Name string `json:"name"`
	Fits bool   `json:"fits"`
	Why  string `json:"why"`
}

func nameLengths(t *testing.T) []nameLength {
	t.Helper()
	data, err := os.ReadFile("../../contract/testdata/name_lengths.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []nameLength
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestANameFitsAsTypedAndAsPrepared (issue 22): a name is counted as typed
// (trimmed and composed, NFC) and as prepared (PRECIS: NFKC, which makes
// "ǅ" the two letters "Dž"), at most NameMax characters and NameMaxBytes
// bytes each: what is stored and shown is the prepared form. 32 "ǅ" typed
// are 64 characters prepared, refused with a message that says why.
func TestANameFitsAsTypedAndAsPrepared(t *testing.T) {
	t.Parallel()
	for _, c := range nameLengths(t) {
		_, p := chat.CleanName(c.Name)
		tooLong := p != nil && p.Code == contract.CodeNameTooLong
		if tooLong == c.Fits {
			t.Errorf("%q (%s): fits %v, but CleanName answered %v", c.Name, c.Why, c.Fits, p)
		}
	}
	_, p := chat.CleanName(strings.Repeat("\u01c5", 32))
	if p == nil || !strings.Contains(p.Message, "written out") || !strings.Contains(p.Message, "64 characters") {
		t.Errorf("32 ǅ: %v, want name_too_long saying it is 64 characters written out", p)
	}
}
