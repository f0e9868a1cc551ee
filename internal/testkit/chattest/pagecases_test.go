package chattest

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// pageCases is testdata/pagecases.json: frame sequences and what a small
// room's page shows after them. frontend/test/pagecases.test.ts runs the
// same table through the page's own presence.ts, converge.ts and count
// rule: the model here is a copy made by hand, and a change to one
// without the other fails one of the two tests.
type pageCases struct {
	RelistTries int `json:"relistTries"`
	Cases       []struct {
		Name  string `json:"name"`
		Steps []struct {
			Apply  json.RawMessage `json:"apply"`
			Settle json.RawMessage `json:"settle"`
			Ask    bool            `json:"ask"`
			Relist json.RawMessage `json:"relist"`
		} `json:"steps"`
		Names   []string `json:"names"`
		Count   *int     `json:"count"`
		Rereads bool     `json:"rereads"`
	} `json:"cases"`
}

func TestThePageModelKeepsTheSharedTable(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/pagecases.json")
	if err != nil {
		t.Fatal(err)
	}
	var table pageCases
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	if table.RelistTries != RelistTries {
		t.Errorf("the table's relistTries is %d, the model's RelistTries %d", table.RelistTries, RelistTries)
	}
	if len(table.Cases) == 0 {
		t.Fatal("the table has no cases")
	}
	for _, c := range table.Cases {
		t.Run(c.Name, func(t *testing.T) {
			var p Page
			for i, s := range c.Steps {
				var err error
				switch {
				case s.Apply != nil:
					err = p.Apply(s.Apply)
				case s.Settle != nil:
					err = p.Settle(s.Settle)
				case s.Ask:
					p.Asked()
				case s.Relist != nil:
					err = p.Relist(s.Relist)
				default:
					t.Fatalf("step %d does nothing", i)
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			if got := p.Names(); !slices.Equal(got, c.Names) && !(len(got) == 0 && len(c.Names) == 0) {
				t.Errorf("the page shows %q, want %q", got, c.Names)
			}
			n, ok := p.Count()
			switch {
			case c.Count == nil && ok:
				t.Errorf("the page shows the count %d, want none", n)
			case c.Count != nil && (!ok || n != *c.Count):
				t.Errorf("the page shows the count %d (shown: %v), want %d", n, ok, *c.Count)
			}
			if got := p.Disagrees(); got != c.Rereads {
				t.Errorf("the page would read its list again: %v, want %v", got, c.Rereads)
			}
		})
	}
}
