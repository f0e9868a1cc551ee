// Fan-out shards (docs/design.md, Fan-out shards): a broadcast to more
// connections than ShardSize delivers the first slice itself and hands the
// others to other environments of the same function, each by an
// asynchronous Invoke of itself whose event carries the frame and the
// slice's connections (contract.ShardEvent). A room of 10,000 is then
// delivered by ten environments at once, each with its own CPU share.

package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
)

// ShardInvoker hands a shard event (the JSON of the whole event, with its
// contract.ShardEventKey) to another environment of this function: an
// asynchronous Invoke of itself (InvocationType Event). Lambda accepts it
// (202) and runs it later, retrying twice if it fails.
type ShardInvoker interface {
	InvokeShard(ctx context.Context, event []byte) error
}

// errBadShard: a shard event the function did not make.
var errBadShard = errors.New("not a shard event")

// shard returns the targets this invocation delivers itself: all of them,
// unless Shards is set and there are more than ShardSize; then the first
// ShardSize (the sender's own copy among them, which deliver posts last)
// and every other slice is handed to another environment. A slice whose
// Invoke failed is delivered here after all (slower, never lost), counted
// in ShardInvokeErrors.
func (inv *invocation) shard(ctx context.Context, room string, frame []byte, targets []target) []target {
	if inv.opt.Shards == nil || len(targets) <= inv.opt.ShardSize {
		return targets
	}
	own, events := inv.slices(room, frame, targets)
	if len(events) == 0 {
		return targets
	}
	var (
		mu     sync.Mutex
		failed []target
	)
	inPool(ctx, len(events), events, func(ev shardSlice) {
		if err := inv.opt.Shards.InvokeShard(ctx, ev.event); err != nil {
			inv.log.Error("invoke a fan-out shard: delivered here instead", "shard", ev.n, "connections", len(ev.targets), "error", err)
			mu.Lock()
			defer mu.Unlock()
			failed = append(failed, ev.targets...)
		}
	})
	inv.m.count(countShards, len(events))
	inv.m.count(countShardErrors, len(failed))
	return append(own, failed...)
}

// shardSlice is one shard's event and the targets it carries.
type shardSlice struct {
	n       int
	event   []byte
	targets []target
}

// slices splits targets: the first ShardSize stay here (own); the rest go
// in slices of at most ShardSize connections and of at most
// contract.MaxShardEventBytes of JSON (a big frame leaves room for fewer).
// Every target past own shares frame (only the sender's copy differs, and
// it is the first target).
func (inv *invocation) slices(room string, frame []byte, targets []target) (own []target, out []shardSlice) {
	own, rest := targets[:inv.opt.ShardSize], targets[inv.opt.ShardSize:]
	base := len(encodeShard(contract.ShardEvent{Room: room, Frame: frame, Shard: 1 << 20, Of: 1 << 20}))
	var cur []target
	size := base
	flush := func() {
		if len(cur) > 0 {
			out = append(out, shardSlice{n: len(out) + 1, targets: cur})
			cur, size = nil, base
		}
	}
	for _, t := range rest {
		m := len(encodeMember(shardMember(t.m))) + 1
		if len(cur) == inv.opt.ShardSize || (len(cur) > 0 && size+m > contract.MaxShardEventBytes) {
			flush()
		}
		if base+m > contract.MaxShardEventBytes {
			own = append(own, t) // no event could carry it: delivered here
			continue
		}
		cur = append(cur, t)
		size += m
	}
	flush()
	for i := range out {
		ev := contract.ShardEvent{Room: room, Frame: frame, Shard: out[i].n, Of: len(out)}
		for _, t := range out[i].targets {
			ev.Members = append(ev.Members, shardMember(t.m))
		}
		out[i].event = encodeShard(ev)
	}
	return own, out
}

func shardMember(m Member) contract.ShardMember {
	return contract.ShardMember{ConnID: m.ConnID, Name: m.Name, Username: m.Username}
}

func encodeMember(m contract.ShardMember) []byte {
	data, _ := json.Marshal(m)
	return data
}

// encodeShard is the whole event: {"groupchatShard": ev}.
func encodeShard(ev contract.ShardEvent) []byte {
	data, _ := json.Marshal(map[string]contract.ShardEvent{contract.ShardEventKey: ev})
	return data
}

// DeliverShard delivers a shard event's frame to its connections and
// removes those found gone (410), as the broadcast that made it would. A
// delivery that fails is counted and logged, never returned: an error
// would have Lambda retry the whole shard, and every member delivered
// before would get the frame again. Only a shard the function could not
// have made is an error (Lambda retries it twice, then drops it).
func (s *Service) DeliverShard(ctx context.Context, raw json.RawMessage) error {
	inv := s.begin(ctx, events.APIGatewayWebsocketProxyRequestContext{RouteKey: "shard", Stage: s.opt.Stage})
	defer inv.end()
	ctx = withDeadlineMargin(ctx, inv.opt.DeadlineMargin, inv.opt.DeadlineClock)
	var ev contract.ShardEvent
	if err := json.Unmarshal(raw, &ev); err != nil || ev.Room == "" || len(ev.Frame) == 0 || len(ev.Members) == 0 {
		inv.log.Error("a shard event the function did not make", "error", err)
		inv.m.count(countInternal, 1)
		return fmt.Errorf("decode the shard event: %w", errBadShard)
	}
	targets := make([]target, 0, len(ev.Members))
	for _, m := range ev.Members {
		if m.ConnID == "" {
			continue
		}
		targets = append(targets, target{Member{ConnID: m.ConnID, Name: m.Name, Username: m.Username}, ev.Frame})
	}
	inv.log.Info("fan-out shard", "room", ev.Room, "shard", ev.Shard, "of", ev.Of, "connections", len(targets))
	inv.deliver(ctx, targets)
	return nil
}
