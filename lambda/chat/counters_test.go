package chat

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// Every counter is written under its own metric name, with its own value:
// a counter added without a name, or two sharing one, fails here.
func TestEveryCounterIsWrittenUnderItsOwnName(t *testing.T) {
	r := &recorder{stage: "dev", route: "sendPublic"}
	for c := range counters {
		r.count(c, int(c)+1)
	}
	var out bytes.Buffer
	if err := r.flush(&out, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for c := range counters {
		name := counterNames[c]
		if name == "" || seen[name] {
			t.Fatalf("counter %d has the name %q, empty or another's", c, name)
		}
		seen[name] = true
		if got, _ := line[name].(float64); got != float64(c)+1 {
			t.Errorf("%s = %v, want %d", name, line[name], c+1)
		}
	}
}
