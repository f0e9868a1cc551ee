package costs

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
)

// docs/costs.md holds the mentions section as WriteMentions writes it, just
// before the scrollback section.
func TestTheMentionsSectionOfCostsMdIsCurrent(t *testing.T) {
	const path, heading = "../../docs/costs.md", "## A page of scrollback\n"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	WriteMentions(&b)
	if strings.Contains(string(doc), b.String()+heading) {
		return
	}
	if os.Getenv("GROUPCHAT_UPDATE_MENTIONS") == "1" {
		before, after, found := strings.Cut(string(doc), heading)
		if !found {
			t.Fatal("docs/costs.md has no scrollback section")
		}
		if i := strings.Index(before, "## A message's mentions\n"); i >= 0 {
			before = before[:i]
		}
		if err := os.WriteFile(path, []byte(before+b.String()+heading+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("docs/costs.md does not hold the mentions section WriteMentions writes before the scrollback section; run GROUPCHAT_UPDATE_MENTIONS=1 go test ./internal/costs -run TestTheMentionsSection")
}

// The costliest message's mentions stay within the contract's bound of reads.
func TestTheCostliestMentionsReadAtMostTwoItemsALookup(t *testing.T) {
	var b bytes.Buffer
	WriteMentions(&b)
	if !strings.Contains(b.String(), "| the costliest") || contract.MentionLookupsMax*2 > 20 {
		t.Errorf("the costliest case is missing, or the bound grew: %d GetItems", 2*contract.MentionLookupsMax)
	}
}
