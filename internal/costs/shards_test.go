package costs

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// docs/costs.md holds the shard section as WriteShards writes it, just
// before the mentions section (cmd/costs writes them in that order);
// GROUPCHAT_UPDATE_SHARDS=1 rewrites it there.
func TestTheShardSectionOfCostsMdIsCurrent(t *testing.T) {
	const path, heading, next = "../../docs/costs.md", "## A message to 10,000 in shards", "## A message's mentions\n"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	WriteShards(&b)
	if strings.Contains(string(doc), b.String()+next) {
		return
	}
	if os.Getenv("GROUPCHAT_UPDATE_SHARDS") == "1" {
		before, after, found := strings.Cut(string(doc), next)
		if !found {
			t.Fatal("docs/costs.md has no mentions section")
		}
		if i := strings.Index(before, heading); i >= 0 {
			before = before[:i]
		}
		if err := os.WriteFile(path, []byte(before+b.String()+next+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("docs/costs.md does not hold the shard section WriteShards writes before the mentions section; run GROUPCHAT_UPDATE_SHARDS=1 go test ./internal/costs -run TestTheShardSection")
}

// Shards shorten a CPU-bound broadcast to 10,000 at 512 MB by about their
// number, for about the same GB-seconds.
func TestShardsShortenTheBroadcastForAboutTheSameGBSeconds(t *testing.T) {
	one, shards := broadcastPlan{"", 512, 1}.cost(), broadcastPlan{"", 512, 10}.cost()
	if shards.wall > one.wall/5 {
		t.Errorf("10 shards take %.2f s, one invocation %.2f s: want at least 5 times shorter", shards.wall, one.wall)
	}
	if shards.gbs > one.gbs*1.2 {
		t.Errorf("10 shards use %.2f GB-s, one invocation %.2f: want about the same", shards.gbs, one.gbs)
	}
}
