package costs

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// docs/costs.md ends with the sections WriteComputed writes, scrollback's and
// an edit's (scripts/bench.sh costs writes the whole file;
// GROUPCHAT_UPDATE_SCROLLBACK=1 go test ./internal/costs -run
// TestTheScrollbackSection rewrites only these sections).
func TestTheScrollbackSectionOfCostsMdIsCurrent(t *testing.T) {
	const path, heading = "../../docs/costs.md", "## A page of scrollback\n"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	WriteComputed(&b)
	before, _, found := strings.Cut(string(doc), heading)
	if os.Getenv("GROUPCHAT_UPDATE_SCROLLBACK") == "1" {
		if !found {
			before += "\n"
		}
		if err := os.WriteFile(path, []byte(before+b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !found || before+b.String() != string(doc) {
		t.Fatalf("docs/costs.md does not end with the sections WriteComputed writes; run GROUPCHAT_UPDATE_SCROLLBACK=1 go test ./internal/costs -run TestTheScrollbackSection")
	}
}

// The costliest page's answer stays within 100 KB, and its read units are
// its items' bytes in 4 KB units.
func TestAScrollbackPageIsPricedByItsItemsBytes(t *testing.T) {
	if got := consistentRRU(0); got != 1 {
		t.Errorf("an empty Query: %d RRU, want 1", got)
	}
	if got := consistentRRU(4097); got != 2 {
		t.Errorf("4,097 bytes: %d RRU, want 2", got)
	}
	c := scrollbackCase{public: 50, private: 50, msg: strings.Repeat("😀", 2000)}
	size, fit := c.answer()
	if size > 100*1024 || fit < 1 || fit > 13 {
		t.Errorf("the costliest answer: %d bytes with %d messages", size, fit)
	}
}
