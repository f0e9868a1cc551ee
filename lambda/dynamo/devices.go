// An account's devices and name versions, on the account's item a#<id>
// (docs/design.md, "Devices on the account item"): one attribute per device,
// d_<connection id>, a map of its room and expiry; l_<connection id> while
// it is being removed; dv, one more with every change of the devices; nv, one
// more with every rename; pn and pc, a rename's old name and claim until all
// its connections carry the new one. Every decision reads the item
// consistently or updates it atomically (ReturnValues ALL_NEW): never the
// account index.

package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// deviceNames are the expression attribute names of a device's attributes
// (#d, #l): a connection id has + / =.
func deviceNames(connID string) map[string]string {
	return map[string]string{"#d": contract.AccountDevicePrefix + connID, "#l": contract.AccountLeavingPrefix + connID}
}

// AddDevice implements chat.Store: one UpdateItem returning the item after
// it. Its retry sets the same device again (not told yet: the device is
// marked told only after this returns) and adds one more to the device
// version, which only orders later frames after it. Conditional on the
// device version being atVersion (none at 0; no condition when negative):
// a retry whose first try was applied fails it, and the caller reads the
// item again and finds its device there. A write that kept meeting a
// removal's transaction is ErrDevicesChanged too.
func (s *Store) AddDevice(ctx context.Context, accountID string, d chat.Device, atVersion int64) (chat.Account, error) {
	in := &dynamodb.UpdateItemInput{
		// The room is added to the rooms the account has been in
		// (attrRooms): its deletion forgets its records there.
		UpdateExpression: aws.String("SET #d = :d ADD #dv :one, #jr :room"),
		ExpressionAttributeNames: map[string]string{"#d": contract.AccountDevicePrefix + d.ConnID, "#dv": contract.AccountDeviceVersion,
			"#jr": attrRooms},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1), ":room": &types.AttributeValueMemberSS{Value: []string{d.Room}}, ":d": &types.AttributeValueMemberM{
			Value: map[string]types.AttributeValue{contract.DeviceRoom: str(d.Room), contract.DeviceExpiresAt: num(d.ExpiresAt.Unix())}}},
	}
	switch {
	case atVersion == 0:
		in.ConditionExpression = aws.String("attribute_not_exists(#dv)")
	case atVersion > 0:
		in.ConditionExpression = aws.String("#dv = :v")
		in.ExpressionAttributeValues[":v"] = num(atVersion)
	}
	a, err := s.updateAccount(ctx, accountID, in)
	if conditionFailed(err) || conflicted(err) {
		// Not applied; a conflict is a removal of one of the account's
		// connections in its transaction: the devices are changing.
		return chat.Account{}, chat.ErrDevicesChanged
	}
	return a, err
}

// LeaveDevice implements chat.Store: one UpdateItem returning the item
// after it, conditional on the device being there (a removal that finishes
// another's after its delete must not leave a leaving flag behind); when it
// is not, one consistent GetItem of the item instead.
func (s *Store) LeaveDevice(ctx context.Context, accountID, connID string) (chat.Account, error) {
	names := deviceNames(connID)
	names["#dv"] = contract.AccountDeviceVersion
	a, err := s.updateAccount(ctx, accountID, &dynamodb.UpdateItemInput{
		UpdateExpression:          aws.String("SET #l = :one ADD #dv :one"),
		ConditionExpression:       aws.String("attribute_exists(#d)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)},
	})
	if conditionFailed(err) {
		return s.Account(ctx, accountID)
	}
	return a, err
}

// ForgetGoneDevice implements chat.Store: one consistent GetItem of the
// record, and when there is none an UpdateItem removing the device.
func (s *Store) ForgetGoneDevice(ctx context.Context, accountID, connID string) (bool, error) {
	var it connItem
	found, err := s.get(ctx, s.names.Connections, key(contract.ConnPK, connKey(connID)), &it)
	if err != nil {
		return false, fmt.Errorf("read the device's connection: %w", err)
	}
	if found {
		return false, nil
	}
	_, err = s.updateAccount(ctx, accountID, &dynamodb.UpdateItemInput{
		UpdateExpression:         aws.String("REMOVE #d, #l"),
		ExpressionAttributeNames: deviceNames(connID),
	})
	return err == nil, err
}

// ToldDevice implements chat.Store: one UpdateItem setting the device's
// told flag, conditional on the device being there (a removed device is not
// made again as a map with only the flag).
func (s *Store) ToldDevice(ctx context.Context, accountID, connID string) error {
	_, err := s.updateAccount(ctx, accountID, &dynamodb.UpdateItemInput{
		UpdateExpression:          aws.String("SET #d.#t = :one"),
		ConditionExpression:       aws.String("attribute_exists(#d)"),
		ExpressionAttributeNames:  map[string]string{"#d": contract.AccountDevicePrefix + connID, "#t": contract.DeviceTold},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("mark the device told: %w", err)
	}
	return nil
}
