// Withdrawing a signed-in $connect refused after its record was put.

package chat

import (
	"context"
	"errors"
	"time"
)

// withdraw removes the record of c, a signed-in $connect refused (or
// failed) after its put: nobody was told of the connection, and its removal
// logs its end. Yet the record may have become its person's last in the
// room while it connected: her other device there left meanwhile, and that
// leave, finding this record, told the room the count with her still in
// it. Deleting the record then takes her from the count, so a small room
// hears the count as read after the delete (confirm), as any removal that
// was not told exactly; a record whose delete does not change the count
// (another of her records there, or none counted) tells nobody. Without it
// every page kept a count one too high for good
// (TestARefusedConnectThatTakesItsPersonFromTheCountTellsTheRoom).
func (inv *invocation) withdraw(ctx context.Context, c Connection) {
	marked, mine, err := inv.store.MarkRemoved(ctx, c.ID, time.Time{}, End{Kind: KindLeft})
	switch {
	case errors.Is(err, ErrNotFound):
		return // removed already: by its $disconnect, which told the room
	case err != nil:
		inv.log.Warn("remove the connection's record", "error", err)
		return
	}
	counted, err := inv.store.StillCounted(ctx, marked)
	if err != nil {
		inv.log.Warn("read whether the connection's record counts", "error", err)
		counted = true // unsure: tell the count
	}
	deleted, err := inv.finishRemoval(ctx, marked, End{Kind: KindLeft})
	if err != nil {
		// Marked: the next removal to find it finishes the delete, and
		// tells the room.
		inv.log.Warn("remove the connection's record", "mine", mine, "error", err)
		return
	}
	if deleted && counted {
		inv.confirm(ctx, c.Room, RoomCount{told: true, unsure: true}, 1, true, c.ID)
	}
}
