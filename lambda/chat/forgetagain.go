// The second forget of a deleted account (docs/design.md, Deleting an
// account): a write drawn before the deletion's sign-out may land after
// its forget step (a message of the account's stored, a private-history
// copy of it put). No invocation outlives contract.FunctionTimeout, so the
// deletion sends itself a delayed message on the settle queue, and when it
// comes the same idempotent forget runs again over the same rooms, after
// every such write has landed or been abandoned.

package chat

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// ForgetAgainDelay is the delay of the second forget: longer than any
// invocation that began before the deletion's sign-out can still write
// (contract.FunctionTimeout from the sign-out, which comes before the
// send), twice over with a margin for a write the invocation sent just
// before its end.
const ForgetAgainDelay = 2*contract.FunctionTimeout + 10*time.Second

// forgetRoomsPerMessage bounds a forget message's rooms: each is a few
// Queries and writes, and a batch of settleBatchSize messages shares one
// invocation's time. More rooms: more messages.
const forgetRoomsPerMessage = 20

// kindForget is the kind of a forget message; a settle message has none.
const kindForget = "forget"

// forgetMessage is the body of a forget message: the deleted account and
// rooms of its records (the tombstone's jr as the deletion read it).
type forgetMessage struct {
	Kind    string   `json:"kind"`
	Account string   `json:"account"`
	Rooms   []string `json:"rooms"`
}

// forgetLater sends the delayed forget messages of a deletion (none
// without a settle queue, or without rooms). A send that fails is logged
// and counted: the operator's run of delete-account again, with the
// account id, forgets again (design.md, Crash points).
func (inv *invocation) forgetLater(ctx context.Context, accountID string, rooms []string) {
	if inv.opt.Settle == nil {
		return
	}
	for part := range slices.Chunk(rooms, forgetRoomsPerMessage) {
		body, _ := json.Marshal(forgetMessage{Kind: kindForget, Account: accountID, Rooms: part})
		if err := inv.opt.Settle.Send(ctx, body, ForgetAgainDelay); err != nil {
			inv.log.Error("send the deleted account's second forget: run delete-account again with its id in a minute",
				"accountId", accountID, "rooms", len(part), "error", err)
			inv.m.count(countInternal, 1)
		}
	}
}

// forgetAgain handles a forget message: the account's records in its rooms
// are forgotten again, and the devices its tombstone keeps removed and
// closed, unless the account is live (an item that is not a tombstone:
// nothing is done). A tombstone, or no item at all (the
// tombstone expired: a dead-lettered message redriven days later), is
// forgotten: no account lives without an item, and the forget writes none.
func (inv *invocation) forgetAgain(ctx context.Context, body string) error {
	var msg forgetMessage
	if err := json.Unmarshal([]byte(body), &msg); err != nil || msg.Account == "" || len(msg.Rooms) == 0 {
		return errBadSettle
	}
	a, err := inv.store.Account(ctx, msg.Account)
	if err != nil {
		return err
	}
	if a.Known && a.Deleted.IsZero() {
		inv.log.Warn("a second forget of an account that is not deleted: nothing done", "accountId", msg.Account)
		return nil
	}
	// The devices the tombstone's transaction found and a killed deletion
	// left listed: removed and closed (nothing to do once they are).
	inv.leave(ctx, a.DeletedDevices)
	inv.closeConnections(ctx, a.DeletedDevices)
	return inv.store.ForgetAccountRecords(ctx, msg.Account, msg.Rooms)
}

// messageKind is the kind of a queue message ("" for a settle).
func messageKind(body string) string {
	var k struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal([]byte(body), &k)
	return k.Kind
}
