// The cap on an account's devices (issue 22): an account holds at most
// Options.MaxDevices connections at once, and the next $connect is refused:
// it records nothing, and its first frame (the page's hello) is answered
// too_many_devices (docs/design.md, "The cap on an account's devices"). The count is of the devices on the account's item, and the
// device is added only while the item's device version is the one the
// count was made on: connects that race are ordered by that version, and
// none of them adds a device past the cap.

package chat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
)

// addTries bounds a $connect's tries to add its device while other devices
// of the account come and go: each try that loses costs one consistent
// GetItem and one UpdateItem.
const addTries = 10

// live lists the devices of the account that hold a place under the cap:
// not leaving, not expired, other than except.
func (a Account) live(except string, now time.Time) []Device {
	var out []Device
	for _, d := range a.Devices {
		if d.ConnID != except && !d.Leaving && !d.ExpiresAt.Before(now) {
			out = append(out, d)
		}
	}
	return out
}

// tooManyDevices is the refusal of a $connect past the cap. The handshake
// is let through with nothing recorded: a browser cannot read a refused
// handshake's status, and would take it for a refused token (it signs the
// page out); the connection's first frame is answered with the reason
// (caller, devicesFull).
func (inv *invocation) tooManyDevices() events.APIGatewayProxyResponse {
	inv.log.Info("connect refused", "code", contract.CodeTooManyDevices)
	return events.APIGatewayProxyResponse{StatusCode: 200}
}

// devicesFull is the reason a signed-in connection without a record is
// not connected when its account holds the cap of other devices: its
// $connect was refused (tooManyDevices). a is the account as the frame's
// charge read it: no request.
func (inv *invocation) devicesFull(a Account) *Problem {
	if len(a.live(inv.connID, inv.opt.Now())) < inv.opt.MaxDevices {
		return nil
	}
	return problem(contract.CodeTooManyDevices, "You are connected on %d devices or tabs already, the most an account may be. Close one to connect here.",
		inv.opt.MaxDevices)
}

// roomForDevice reports whether the account a, as read, has a place for
// c's device. At the cap, a device that has not told its room long after
// its $connect began is checked: its $connect died, and when its record is
// gone too (a close overtook it) the device is forgotten and its place
// freed; the account is then read again. It returns the account as last
// read.
func (inv *invocation) roomForDevice(ctx context.Context, a Account, c Connection) (Account, bool, error) {
	now := inv.opt.Now()
	live := a.live(c.ID, now)
	if len(live) < inv.opt.MaxDevices {
		return a, true, nil
	}
	forgot := false
	for _, d := range live {
		began := d.ExpiresAt.Add(-inv.opt.ConnectionTTL)
		if d.Told || now.Sub(began) < stillConnecting+time.Second {
			continue
		}
		gone, err := inv.store.ForgetGoneDevice(ctx, c.AccountID, d.ConnID)
		if err != nil {
			return a, false, err
		}
		forgot = forgot || gone
	}
	if !forgot {
		return a, false, nil
	}
	a, err := inv.store.Account(ctx, c.AccountID)
	if err != nil {
		return a, false, err
	}
	return a, len(a.live(c.ID, inv.opt.Now())) < inv.opt.MaxDevices, nil
}

// addDevice adds c's device to its account, a as read before, unless the
// account holds MaxDevices already (refused). When another device came or
// went since a was read, the account is read again and counted again.
func (inv *invocation) addDevice(ctx context.Context, a Account, c Connection) (_ Account, refused bool, _ error) {
	d := Device{ConnID: c.ID, Room: c.Room, ExpiresAt: c.ExpiresAt}
	for range addTries {
		for _, had := range a.Devices {
			if had.ConnID == c.ID && !had.Leaving {
				return a, false, nil // added by a try whose answer was lost
			}
		}
		var ok bool
		var err error
		if a, ok, err = inv.roomForDevice(ctx, a, c); err != nil || !ok {
			return a, !ok && err == nil, err
		}
		added, err := inv.store.AddDevice(ctx, c.AccountID, d, a.DeviceVersion)
		if err == nil {
			return added, false, nil
		}
		if !errors.Is(err, ErrDevicesChanged) {
			return a, false, err
		}
		if a, err = inv.store.Account(ctx, c.AccountID); err != nil {
			return a, false, err
		}
		if inv.signedOutSince(a) {
			// A sign-out everywhere or a deletion (its tombstone) moved
			// or dropped the device version: no device on its item.
			return a, false, errSignedOutWhileConnecting
		}
		if _, banned := a.Banned(c.Room, inv.opt.Now()); banned {
			// A ban moved the device version (sanction.go).
			return a, false, errBanned
		}
	}
	return a, false, fmt.Errorf("the account's devices changed %d times while this one was added", addTries)
}
