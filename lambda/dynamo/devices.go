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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
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

// accountFrom reads an account's item as DynamoDB returns it.
func accountFrom(id string, item map[string]types.AttributeValue) (chat.Account, error) {
	var it accountItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return chat.Account{}, fmt.Errorf("decode account %s: %w", id, err)
	}
	a := chat.Account{ID: id, Name: it.Name, NameVersion: it.NameVersion, PendingName: it.PendingName,
		PendingClaim: it.PendingClaim, DeviceVersion: it.DeviceVersion, UsernameReserved: it.UsernameReserved}
	for _, ms := range it.ConnectLog {
		a.Connects = append(a.Connects, time.UnixMilli(ms))
	}
	for attr, v := range item {
		connID, ok := strings.CutPrefix(attr, contract.AccountDevicePrefix)
		m, isMap := v.(*types.AttributeValueMemberM)
		if !ok || !isMap {
			continue
		}
		d := chat.Device{ConnID: connID}
		if r, ok := m.Value[contract.DeviceRoom].(*types.AttributeValueMemberS); ok {
			d.Room = r.Value
		}
		if e, ok := m.Value[contract.DeviceExpiresAt].(*types.AttributeValueMemberN); ok {
			if s, err := strconv.ParseInt(e.Value, 10, 64); err == nil {
				d.ExpiresAt = time.Unix(s, 0)
			}
		}
		_, d.Leaving = item[contract.AccountLeavingPrefix+connID]
		_, d.Told = m.Value[contract.DeviceTold]
		a.Devices = append(a.Devices, d)
	}
	slices.SortFunc(a.Devices, func(x, y chat.Device) int { return strings.Compare(x.ConnID, y.ConnID) })
	return a, nil
}

// Account implements chat.Store: one consistent GetItem.
func (s *Store) Account(ctx context.Context, accountID string) (chat.Account, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.names.Connections),
		Key: key(contract.ConnPK, accountKey(accountID)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return chat.Account{}, fmt.Errorf("read account: %w", err)
	}
	return accountFrom(accountID, out.Item)
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
		UpdateExpression:         aws.String("SET #d = :d ADD #dv :one"),
		ExpressionAttributeNames: map[string]string{"#d": contract.AccountDevicePrefix + d.ConnID, "#dv": contract.AccountDeviceVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1), ":d": &types.AttributeValueMemberM{
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

// updateAccount runs an UpdateItem of the account's item, returning the
// item after it. The item is in the transaction of every removal of one of
// the account's connections: a write that meets one is made again.
func (s *Store) updateAccount(ctx context.Context, accountID string, in *dynamodb.UpdateItemInput) (chat.Account, error) {
	in.TableName = aws.String(s.names.Connections)
	in.Key = key(contract.ConnPK, accountKey(accountID))
	in.ReturnValues = types.ReturnValueAllNew
	var out *dynamodb.UpdateItemOutput
	err := retryConflicts(ctx, func() (err error) {
		out, err = s.db.UpdateItem(ctx, in)
		return err
	})
	if err != nil {
		if conditionFailed(err) {
			return chat.Account{}, err
		}
		return chat.Account{}, fmt.Errorf("update account %s: %w", accountID, err)
	}
	return accountFrom(accountID, out.Attributes)
}

// RenameConnection implements chat.Store: one UpdateItem, conditional on the
// record being live and carrying an older name version (or this call's
// token: its retry), returning the name it had.
func (s *Store) RenameConnection(ctx context.Context, id, name string, nv int64) (string, bool, error) {
	var out *dynamodb.UpdateItemOutput
	err := retryConflicts(ctx, func() (err error) {
		out, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:        aws.String(s.names.Connections),
			Key:              key(contract.ConnPK, connKey(id)),
			UpdateExpression: aws.String("SET #name = :name, #nv = :nv, #w = :w REMOVE #warnCode, #warnMessage"),
			ConditionExpression: aws.String("attribute_exists(#pk) AND attribute_not_exists(#gone) AND " +
				"(attribute_not_exists(#nv) OR #nv < :nv OR #w = :w)"),
			ExpressionAttributeNames: map[string]string{"#pk": contract.ConnPK, "#name": contract.RoomIndexName,
				"#nv": contract.NameVersion, "#w": attrWrite, "#gone": attrGone, "#warnCode": attrWarnCode,
				"#warnMessage": attrWarnMessage},
			ExpressionAttributeValues: map[string]types.AttributeValue{":name": str(name), ":nv": num(nv),
				":w": str(newWriteToken())},
			ReturnValues: types.ReturnValueUpdatedOld,
		})
		return err
	})
	if conditionFailed(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("rename connection %s: %w", id, err)
	}
	var old struct {
		Name string `dynamodbav:"name"`
	}
	_ = attributevalue.UnmarshalMap(out.Attributes, &old)
	return old.Name, true, nil
}

// FinishedRename implements chat.Store: one UpdateItem removing the pending
// rename, conditional on its claim (a later rename's stays).
func (s *Store) FinishedRename(ctx context.Context, accountID, claim string) error {
	_, err := s.updateAccount(ctx, accountID, &dynamodb.UpdateItemInput{
		UpdateExpression:          aws.String("REMOVE #pn, #pc"),
		ConditionExpression:       aws.String("#pc = :pc"),
		ExpressionAttributeNames:  map[string]string{"#pn": contract.AccountPendingName, "#pc": contract.AccountPendingClaim},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pc": str(claim)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("finish rename: %w", err)
	}
	return nil
}

// AccountName returns the account's name, "" before it has one (one
// consistent GetItem of its item): for tests and tools; the chat reads the
// whole item (Account).
func (s *Store) AccountName(ctx context.Context, accountID string) (string, error) {
	a, err := s.Account(ctx, accountID)
	return a.Name, err
}
