package main

import (
	"strings"
	"testing"
	"time"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local"
)

// TestABroadcastGoesOutInShardsThroughTheLocalLambdaAPI: with a shard of
// one connection, a public message to a room of three is delivered by the
// sender's invocation to the sender and by two asynchronous Invokes of the
// function (the local Lambda API, InvocationType Event) to the others, in
// this process and in execution environments.
func TestABroadcastGoesOutInShardsThroughTheLocalLambdaAPI(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"inprocess", "env"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			o := local.Options{Log: testWriter{t}, Chat: chat.Options{StaleGrace: time.Millisecond},
				Getenv: func(k string) string {
					if k == contract.EnvFanoutShardSize {
						return "1"
					}
					return ""
				}}
			if mode == "env" {
				testkit.Slow(t, "builds the bootstrap and runs the local stack with it")
				o.Environments = &local.Environments{Bootstrap: hostBootstrap(t), MemoryMB: 512}
			}
			ctx := testkit.Context(t, 3*time.Minute)
			s := &testStack{Stack: localtest.Start(t, o)}
			alice, _ := s.join(ctx, t, "Alice", "big")
			bob, _ := s.join(ctx, t, "Bob", "big")
			cy, _ := s.join(ctx, t, "Cy", "big")
			alice.send(ctx, map[string]any{"action": "sendPublic", "message": "to the shards", "ref": "s1"})
			for _, c := range []*client{alice, bob, cy} {
				for {
					f := c.next(ctx)
					if f.str("type") == "public" {
						must(t, f.str("message") == "to the shards", "%s got %v", c.name, f)
						break
					}
				}
			}
			for !strings.Contains(s.Metrics(), `"`+contract.MetricFanoutShards+`"`) {
				if ctx.Err() != nil {
					t.Fatalf("no %s metric:\n%s", contract.MetricFanoutShards, s.Metrics())
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
