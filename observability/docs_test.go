package observability

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestAlarmTableIsTheDefinition: docs/observability.md's table of alarms
// names every alarm of the definition (with sign-in, which has them all),
// with its threshold and the definition's reason, and no other.
func TestAlarmTableIsTheDefinition(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "## The alarms and why their thresholds")
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string][]string{} // alarm id -> its row's cells
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		for _, id := range strings.Split(cells[0], "`") {
			if id != "" && !strings.ContainsAny(id, " ,()") {
				rows[id] = cells
			}
		}
	}
	def := Define(Env{Stage: "prod", SignIn: true})
	for _, a := range def.Alarms {
		cells, ok := rows[a.ID]
		if !ok {
			t.Errorf("the table has no row for %s", a.ID)
			continue
		}
		delete(rows, a.ID)
		if len(cells) != 4 {
			t.Errorf("%s: row %q has %d cells", a.ID, cells, len(cells))
			continue
		}
		if th := strconv.FormatFloat(a.Threshold, 'f', -1, 64); !strings.Contains(cells[2], th) {
			t.Errorf("%s: the table says %q, the definition's threshold is %s", a.ID, cells[2], th)
		}
		if cells[3] != a.Why {
			t.Errorf("%s: the table's reason\n  %s\nthe definition's\n  %s", a.ID, cells[3], a.Why)
		}
	}
	for id := range rows {
		t.Errorf("the table names %s, which the definition does not have", id)
	}
}
