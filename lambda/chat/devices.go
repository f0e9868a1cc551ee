// A signed-in person's devices (docs/design.md, "Devices on the account
// item"): every connection of an account is a device on the account's item,
// and whether the room hears "joined" or "left" is decided by one atomic
// update of that item, never by the account index (eventually consistent:
// two tabs closed together, or a reload within its lag, each saw a
// connection that was not there any more). The same update returns the
// device version, which orders the person's joined and left frames (v).

package chat

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// deviceStore keeps an account's devices (its connections, by room) on the
// account's item, read with accountStore.Account.
type deviceStore interface {
	// AddDevice records a connection as one of the account's devices, in
	// its room, and returns the account's item after it (its device
	// version one more). It adds it only while the device version is
	// still atVersion (ErrDevicesChanged otherwise), so that a cap counted
	// on the item read at that version holds however many connects race;
	// a negative atVersion adds it whatever the version.
	AddDevice(ctx context.Context, accountID string, d Device, atVersion int64) (Account, error)
	// LeaveDevice marks the account's device leaving and returns the
	// account's item after it (its device version one more; the device is
	// deleted with its record, DeleteMarked).
	LeaveDevice(ctx context.Context, accountID, connID string) (Account, error)
	// ForgetGoneDevice removes the account's device when its connection's
	// record is gone (removed by a $disconnect that overtook its
	// $connect): true when it did.
	ForgetGoneDevice(ctx context.Context, accountID, connID string) (bool, error)
	// ToldDevice marks the account's device told: its $connect has told
	// the room the person is there (or found another device told). Nothing
	// when the device is gone.
	ToldDevice(ctx context.Context, accountID, connID string) error
}

// members lists the account's devices in room that are not leaving, as
// members under the account's name.
func (a Account) members(room string, now time.Time) []Member {
	var out []Member
	for _, d := range a.In(room, "", now) {
		out = append(out, Member{ConnID: d.ConnID, Name: a.Name, AccountID: a.ID})
	}
	return out
}

// joinDevice adds a recorded connection to its account's devices and tells
// the room "joined" unless the room already knows the person is there
// (told): of two first devices connecting together one tells the room, and
// a device whose $connect died before telling it does not keep the next
// one from telling it (docs/design.md, Devices on the account item). The
// update also returns the account's name: a rename that landed after the
// name was read renames the record now.
// With the account as read before the record was put (read), the device is
// added under the cap on the account's devices (devicecap.go).
func (inv *invocation) joinDevice(ctx context.Context, c Connection, read Account) events.APIGatewayProxyResponse {
	// The joined's ts, taken before the device is added: a rename that
	// lists the device (and so stamps its renamed after the device was
	// added) is later, and its release of the old name wins on every page
	// over a joined that still carries it. A millisecond earlier still, as
	// a stayed entry (stale.go): a rename in the same millisecond is then
	// strictly later (at an equal ts being there wins, and Bob stayed on
	// every page beside the Dot he had become,
	// TestAJoinedDoesNotOutliveARenameJustAfterItsDeviceWasAdded).
	ts := inv.opt.Now().Add(-time.Millisecond)
	a, refused, err := inv.addDevice(ctx, read, c)
	if refused {
		// Another $connect took the last place while this one recorded its
		// connection: nobody was told of it, and its removal logs its end.
		inv.withdraw(ctx, c)
		return inv.tooManyDevices()
	}
	if errors.Is(err, errSignedOutWhileConnecting) {
		// Signed out everywhere, or deleted, while it connected: nobody
		// was told of it, and its removal logs its end.
		inv.withdraw(ctx, c)
		return inv.refuseSignedOut()
	}
	if errors.Is(err, errBanned) {
		// Banned while it connected: nobody was told of it, and its
		// removal logs its end.
		inv.withdraw(ctx, c)
		return inv.refuseBanned(c.Room)
	}
	if err != nil {
		inv.log.Error("add the device to the account", "error", err)
		// Its removal takes the device off the account too, if it was added;
		// its joined is logged already, and the removal logs its end.
		inv.withdraw(ctx, c)
		return events.APIGatewayProxyResponse{StatusCode: 500}
	}
	// A $disconnect that overtook this $connect removed the record before
	// the device was added: the device would outlive it for good.
	if gone, err := inv.store.ForgetGoneDevice(ctx, c.AccountID, c.ID); err != nil {
		inv.log.Warn("check the connection's record after adding its device", "error", err)
	} else if gone {
		inv.log.Info("the connection was removed while it connected")
		return events.APIGatewayProxyResponse{StatusCode: 200}
	}
	if a.Name != "" && a.NameVersion > c.NameVersion {
		// Renamed since the name was read, after the rename listed the
		// account's devices: this record catches up by itself.
		if _, _, err := inv.store.RenameConnection(ctx, c.ID, a.Name, a.NameVersion); err != nil {
			inv.log.Warn("bring the connection's name up to the account's", "error", err)
		}
		c.Name = a.Name
	}
	told, latest := inv.told(ctx, a, c)
	if latest.Name != "" && latest.NameVersion > a.NameVersion {
		// Renamed while this device waited (told): the rename listed the
		// device, renamed its record and told the room; the joined
		// (stamped before it) carries the new name too, or a page that
		// came after the rename would show the old one beside it.
		c.Name = latest.Name
	}
	// The room counts people: another device of someone the room knows is
	// there changes neither the count nor the list, and is not told.
	if !told {
		if rc, ok := inv.counted(ctx, c.Room, 1); ok {
			inv.announce(ctx, c.Room, rc, presenceFrame{Type: KindJoined, Room: c.Room, Name: c.Name, TS: millis(ts),
				Account: c.AccountID, Username: c.Username, V: a.DeviceVersion}, c.ID)
		}
	}
	// After the room was told: a device that finds this one told does not
	// tell it again.
	if err := inv.store.ToldDevice(ctx, c.AccountID, c.ID); err != nil {
		inv.log.Warn("mark the device told", "error", err)
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}
}

// joinWaits are the pauses between the reads of the account while a
// device waits for another, still connecting, to tell the room (told):
// 2.55 s in all, six consistent GetItems at most, and only when another
// device of the account connected to the room within stillConnecting.
var joinWaits = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	400 * time.Millisecond, 800 * time.Millisecond, time.Second}

// stillConnecting is how long after its $connect began a device that has
// not told the room is waited for: past it, its $connect has died (or the
// device predates the told flag), and the room is told without waiting.
const stillConnecting = 10 * time.Second

// told reports whether the room already knows the person is there, from
// the account's item as AddDevice returned it: another device of the
// account in the room, not leaving, is told. Another device not told yet
// was added before this one (or after, when AddDevice was retried) and is
// telling the room now, or its $connect died before it did: that is waited
// for a little, reading the account again (joinWaits), and past the wait
// this device tells the room itself. A joined told twice is harmless (the
// page lists a name once, ordered by v); one never told is not. It also
// returns the account as last read.
func (inv *invocation) told(ctx context.Context, a Account, c Connection) (bool, Account) {
	for _, pause := range joinWaits {
		now := inv.opt.Now()
		connecting := false
		for _, d := range a.In(c.Room, c.ID, now) {
			if d.Told {
				return true, a
			}
			connecting = connecting || now.Sub(d.ExpiresAt.Add(-inv.opt.ConnectionTTL)) < stillConnecting
		}
		if !connecting || !RetryAllowed(ctx, pause) {
			return false, a
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, a
		case <-t.C:
		}
		var err error
		if a, err = inv.store.Account(ctx, c.AccountID); err != nil {
			inv.log.Warn("read the account while another device connects", "error", err)
			return false, Account{}
		}
	}
	return slices.ContainsFunc(a.In(c.Room, c.ID, inv.opt.Now()), func(d Device) bool { return d.Told }), a
}

// leaveDevice marks a marked connection's device leaving and reports
// whether the person leaves the room with it (no other device there that is
// not leaving, as the same update returns the account's item), with the
// device version to order the frame by, the account's name now (""
// when unknown) and the old name of its unfinished rename ("" when none).
// Of devices leaving together the last to be marked sees none left. On an
// error it says the person left: a "left" of someone still there is
// corrected by the next state, a missing one is not.
func (inv *invocation) leaveDevice(ctx context.Context, c Connection) (last bool, v int64, name, pending string) {
	a, err := inv.store.LeaveDevice(ctx, c.AccountID, c.ID)
	if err != nil {
		inv.log.Warn("mark the device leaving", "error", err)
		return true, 0, "", ""
	}
	others := a.In(c.Room, c.ID, inv.opt.Now())
	// A device never told may have no record: a $disconnect that overtook
	// its $connect removed the record before the device was added, and the
	// $connect died before it could see that (ForgetGoneDevice). Nothing
	// else would ever remove it, and for hours it would keep every left of
	// hers from the room. Such a device is rare (one told is the rule), so
	// only then is its record read.
	others = slices.DeleteFunc(others, func(d Device) bool {
		if d.Told {
			return false
		}
		gone, err := inv.store.ForgetGoneDevice(ctx, c.AccountID, d.ConnID)
		if err != nil {
			inv.log.Warn("check another device's record", "error", err)
		}
		return gone
	})
	return len(others) == 0, a.DeviceVersion, a.Name, a.PendingName
}

// disconnectAccount removes a signed-in connection's marked record (mine:
// this call marked it; otherwise it finishes a removal that stopped after
// its mark) and tells the room she left when it was her last device there.
// The room is told before the record is deleted: a removal that dies after
// the announcement is finished by the next one to find the mark, which
// announces again (a "left" twice is harmless, none is not). The delete
// logs her end (the mark's: left), whichever removal makes it.
func (inv *invocation) disconnectAccount(ctx context.Context, c Connection, mine bool) {
	// The left's ts, taken right after the record was marked and before the
	// device is: a rename that skipped the marked record releases its name
	// later, and whoever takes that name then is later still, so this left
	// of the old name does not drop them from any page.
	now := inv.opt.Now()
	own := withoutMargin(ctx) // the removal's own writes, as disconnect's
	last, v, _, pending := inv.leaveDevice(own, c)
	if mine {
		inv.m.count(countAccepted, 1)
		inv.log.Info("disconnected", "room", c.Room, "accountId", c.AccountID)
	}
	var told RoomCount
	if rc, ok := inv.counted(ctx, c.Room, 1); ok {
		told = inv.ahead(ctx, rc, []*Connection{&c}) // the record counts until its delete, below
		if last && pending != "" && NameKey(pending) != NameKey(c.Name) && told.Count <= PresenceLiveMax {
			// Her rename is unfinished (its invocation died after renaming
			// this record, perhaps before telling the room): the room may
			// know her by the old name, still hers until the rename is
			// finished (nobody else holds it, and whoever takes it next
			// claims it later than now). Without v: ordered by ts.
			inv.broadcast(ctx, c.Room, encode(presenceFrame{Type: KindLeft, Room: c.Room, Name: pending, TS: millis(now),
				Count: told.Count, CV: told.cv(), Account: c.AccountID, Username: c.Username}), "", nil, c.ID)
		}
		if last {
			inv.announce(ctx, c.Room, told, presenceFrame{Type: KindLeft, Room: c.Room, Name: c.Name, TS: millis(now),
				Account: c.AccountID, Username: c.Username, V: v}, c.ID) // not to the connection that left, still listed until its delete
		} else if !c.Person {
			// A record from before people were counted counts itself.
			inv.recount(ctx, c.Room, told, now, c.ID)
		}
		// Otherwise she is still here on another device: the count does
		// not change, and confirm tells the room only if it did.
	}
	deleted, err := inv.finishRemoval(own, c, End{Kind: KindLeft})
	if err != nil {
		inv.log.Error("remove connection", "error", err)
	}
	inv.confirm(ctx, c.Room, told, 1, deleted, c.ID)
}
