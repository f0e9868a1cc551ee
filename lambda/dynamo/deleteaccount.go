// Deleting an account (chat's deleteaccount.go; docs/design.md, "Deleting an
// account"): one transaction turns its item into a tombstone and deletes
// the items of the names it holds; its records are forgotten after.

package dynamo

import (
	"context"
	"errors"
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

const (
	attrRooms   = "jr"      // accountItem.Rooms: a string set
	attrDeleted = "deleted" // accountItem.Deleted (ms)
	// attrDeletedDevices is accountItem.DeletedDevices: a string set.
	attrDeletedDevices = "jd"
)

// deleteTries bounds the reads and transactions of DeleteAccount when the
// items it read change before its transaction (a rename, a device).
const deleteTries = 8

// DeleteAccount implements chat.Store: a consistent GetItem of the account's
// item and of each name's item, then one TransactWriteItems: the tombstone
// put in place of the account's item, conditional on its name and device
// versions being those read (and it not being a tombstone), and each item
// of a name the account holds deleted, conditional on the claim read. When
// a condition fails it reads again and tries again; a transaction DynamoDB
// applied but answered with an error is found applied (a tombstone) by the
// next try or the next run.
func (s *Store) DeleteAccount(ctx context.Context, accountID, username string, names []string, at, until time.Time) (chat.Account, []string, bool, error) {
	for range deleteTries {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.names.Connections),
			Key: key(contract.ConnPK, accountKey(accountID)), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return chat.Account{}, nil, false, fmt.Errorf("read account: %w", err)
		}
		a, err := accountFrom(accountID, out.Item)
		if err != nil {
			return chat.Account{}, nil, false, err
		}
		if !a.Deleted.IsZero() {
			return a, nil, false, nil
		}
		// The names the item holds as read now: a rename that landed since
		// the caller read the account (its new name, its old one pending)
		// is released too, not left owned by a deleted account.
		held := slices.Clone(names)
		for _, n := range []string{a.Name, a.PendingName} {
			if n != "" {
				held = append(held, n)
			}
		}
		actions, released, err := s.releaseNames(ctx, accountID, username, held)
		if err != nil {
			return chat.Account{}, nil, false, err
		}
		tomb := map[string]types.AttributeValue{
			contract.ConnPK:        str(accountKey(accountID)),
			attrDeleted:            num(at.UnixMilli()),
			attrSignedOut:          num(at.UnixMilli()),
			contract.ConnExpiresAt: num(until.Unix()),
		}
		if len(a.Rooms) > 0 {
			tomb[attrRooms] = &types.AttributeValueMemberSS{Value: a.Rooms}
		}
		// The connections that asked for the deletion: each is left to
		// its deletion (answered accountDeleted, then closed), every other
		// one told signed_out (chat.Account.DeletingConns).
		if len(a.DeletingConns) > 0 {
			tomb[attrDeletingConns] = &types.AttributeValueMemberSS{Value: a.DeletingConns}
		}
		// The devices the item has as read (the put is conditional on its
		// device version): a kill before they are removed leaves them to
		// a run again and the second forget.
		var ids []string
		for _, d := range a.Devices {
			ids = append(ids, d.ConnID)
		}
		if len(ids) > 0 {
			tomb[attrDeletedDevices] = &types.AttributeValueMemberSS{Value: ids}
		}
		roomsVersion := keepRoomMaps(tomb, out.Item)
		cond, values := "attribute_not_exists(#pk) OR (attribute_not_exists(#del)", map[string]types.AttributeValue{}
		versions := map[string]int64{contract.NameVersion: a.NameVersion, contract.AccountDeviceVersion: a.DeviceVersion,
			contract.AccountRoomsVersion: roomsVersion}
		for attr, v := range versions {
			if v == 0 {
				cond += " AND attribute_not_exists(" + attr + ")"
			} else {
				cond += " AND " + attr + " = :" + attr
				values[":"+attr] = num(v)
			}
		}
		put := &types.Put{TableName: aws.String(s.names.Connections), Item: tomb, ConditionExpression: aws.String(cond + ")"),
			ExpressionAttributeNames: map[string]string{"#pk": contract.ConnPK, "#del": attrDeleted}}
		if len(values) > 0 {
			put.ExpressionAttributeValues = values
		}
		err = s.transact(ctx, append(actions, types.TransactWriteItem{Put: put})...)
		if transactionConditionFailed(err) {
			continue // a rename, a device, a claim changed: read again
		}
		if err != nil {
			return chat.Account{}, nil, false, fmt.Errorf("delete account: %w", err)
		}
		return a, released, true, nil
	}
	return chat.Account{}, nil, false, fmt.Errorf("delete account: its items changed at each of %d tries", deleteTries)
}

// keepRoomMaps copies into the tombstone the account's maps of its records
// in rooms (r_<room>) from its item as read, and their version, which it
// returns: records put by $connects that have not added their device yet
// stay counted, and their removal takes them off the count as it would
// have (people.go). The tombstone lives at least as long as the latest of
// them (their expiresAt), so no removal finds it gone.
func keepRoomMaps(tomb, item map[string]types.AttributeValue) int64 {
	var version int64
	if n, ok := item[contract.AccountRoomsVersion].(*types.AttributeValueMemberN); ok {
		version, _ = strconv.ParseInt(n.Value, 10, 64)
		tomb[contract.AccountRoomsVersion] = n
	}
	until, _ := strconv.ParseInt(tomb[contract.ConnExpiresAt].(*types.AttributeValueMemberN).Value, 10, 64)
	for attr, v := range item {
		m, ok := v.(*types.AttributeValueMemberM)
		if !strings.HasPrefix(attr, contract.AccountRoomPrefix) || !ok {
			continue
		}
		tomb[attr] = m
		for _, e := range m.Value {
			if n, ok := e.(*types.AttributeValueMemberN); ok {
				if at, err := strconv.ParseInt(n.Value, 10, 64); err == nil && at > until {
					until = at
				}
			}
		}
	}
	tomb[contract.ConnExpiresAt] = num(until)
	return version
}

// releaseNames reads each name's item and returns a conditional delete of
// each the account holds (owner: it, by the claim read), or, for
// username's reservation, that no account has claimed yet.
func (s *Store) releaseNames(ctx context.Context, accountID, username string, names []string) ([]types.TransactWriteItem, []string, error) {
	var actions []types.TransactWriteItem
	var released, seen []string
	for _, name := range names {
		k := ownerKey(name)
		if slices.Contains(seen, k) {
			continue
		}
		seen = append(seen, k)
		var it ownerItem
		found, err := s.get(ctx, s.names.Connections, key(contract.ConnPK, k), &it)
		if err != nil {
			return nil, nil, fmt.Errorf("read name owner: %w", err)
		}
		del := &types.Delete{TableName: aws.String(s.names.Connections), Key: key(contract.ConnPK, k)}
		switch {
		case !found:
			continue
		case it.Owner == accountID && it.Write != "":
			del.ConditionExpression = aws.String("#owner = :me AND #w = :w")
			del.ExpressionAttributeNames = map[string]string{"#owner": attrOwner, "#w": attrWrite}
			del.ExpressionAttributeValues = map[string]types.AttributeValue{":me": str(accountID), ":w": str(it.Write)}
		case it.Owner == accountID:
			del.ConditionExpression = aws.String("#owner = :me AND attribute_not_exists(#w)")
			del.ExpressionAttributeNames = map[string]string{"#owner": attrOwner, "#w": attrWrite}
			del.ExpressionAttributeValues = map[string]types.AttributeValue{":me": str(accountID)}
		case it.Owner == "" && username != "" && it.ReservedFor == username:
			del.ConditionExpression = aws.String("attribute_not_exists(#owner) AND #rf = :user")
			del.ExpressionAttributeNames = map[string]string{"#owner": attrOwner, "#rf": contract.OwnerReservedFor}
			del.ExpressionAttributeValues = map[string]types.AttributeValue{":user": str(username)}
		default:
			continue // another's
		}
		actions = append(actions, types.TransactWriteItem{Delete: del})
		released = append(released, it.Name)
	}
	return actions, released, nil
}

// ReservationOwner implements chat.Store: one consistent GetItem.
func (s *Store) ReservationOwner(ctx context.Context, username, name string) (string, error) {
	var it ownerItem
	if _, err := s.get(ctx, s.names.Connections, key(contract.ConnPK, ownerKey(name)), &it); err != nil {
		return "", fmt.Errorf("read name owner: %w", err)
	}
	if it.ReservedFor != username {
		return "", nil
	}
	return it.Owner, nil
}

// ReleaseReservation implements chat.Store: one DeleteItem conditional on
// the reservation (rf = username) and no owner, returning the old item; a
// retry of an applied one finds nothing (released: "").
func (s *Store) ReleaseReservation(ctx context.Context, username, name string) (string, error) {
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.names.Connections),
		Key:                       key(contract.ConnPK, ownerKey(name)),
		ConditionExpression:       aws.String("#rf = :user AND attribute_not_exists(#owner)"),
		ExpressionAttributeNames:  map[string]string{"#rf": contract.OwnerReservedFor, "#owner": attrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{":user": str(username)},
		ReturnValues:              types.ReturnValueAllOld,
	})
	if conditionFailed(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("release the reservation: %w", err)
	}
	var it ownerItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return "", fmt.Errorf("release the reservation: %w", err)
	}
	return it.Name, nil
}

// ForgetAccountRecords implements chat.Store. In each room: a Query of the
// account's private-history copies, each deleted (DeleteItem); a Query of
// the room's public and private streams for its messages (a filter on the
// account id: the partition is read whole, within the log's retention),
// each updated to remove its account id and username (conditional on the
// account id: a retry finds nothing), and so is each recipient's copy of
// its private messages, and each of its edited activity records (a Query
// of the room's activity log, filtered on the account id). The private
// messages sent to it (the same Query, filtered on its id in toAccounts
// too) lose its id from their recipients' accounts and readers
// (forget.go). Then one UpdateItem takes the rooms off the tombstone.
func (s *Store) ForgetAccountRecords(ctx context.Context, accountID string, rooms []string) error {
	var errs []error
	for _, room := range rooms {
		errs = append(errs, s.forgetIn(ctx, accountID, room))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if len(rooms) == 0 {
		return nil
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.names.Connections),
		Key:                      key(contract.ConnPK, accountKey(accountID)),
		UpdateExpression:         aws.String("REMOVE #jr"),
		ConditionExpression:      aws.String("attribute_exists(#del)"),
		ExpressionAttributeNames: map[string]string{"#jr": attrRooms, "#del": attrDeleted},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("forget the account's rooms: %w", err)
	}
	return nil
}

func (s *Store) forgetIn(ctx context.Context, accountID, room string) error {
	own := readerKey(room, chat.Reader(chat.Connection{AccountID: accountID}))
	if err := s.eachRecord(ctx, own, "", false, func(it recordItem) error {
		_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.names.Messages),
			Key: recordKey(own, it.ID)})
		return err
	}); err != nil {
		return fmt.Errorf("delete private-history copies: %w", err)
	}
	for _, kind := range []chat.Kind{chat.KindPublic, chat.KindPrivate} {
		err := s.eachRecord(ctx, streamKey(kind, room), accountID, kind == chat.KindPrivate, func(it recordItem) error {
			if slices.Contains(it.ToAccounts, accountID) {
				if err := s.dropRecipient(ctx, room, it, accountID); err != nil {
					return err
				}
			}
			if it.FromAccount != accountID {
				return nil
			}
			// The recipients' copies first, the message's item last (and
			// its readers without the account's before): a run killed in
			// between finds the message again by its account id.
			for _, to := range it.ToAccounts {
				if to == accountID {
					continue
				}
				if err := s.anonymize(ctx, readerKey(room, chat.Reader(chat.Connection{AccountID: to})), it.ID, accountID); err != nil {
					return err
				}
			}
			if mine := chat.Reader(chat.Connection{AccountID: accountID}); slices.Contains(it.Readers, mine) {
				if err := s.dropFrom(ctx, it.Stream, it.ID, "", mine); err != nil {
					return err
				}
			}
			return s.anonymize(ctx, it.Stream, it.ID, accountID)
		})
		if err != nil {
			return fmt.Errorf("take the account off its messages: %w", err)
		}
	}
	// Each edited version of its messages (the activity log's edited
	// records, the text before and after) is its messages' text too; the
	// other activity records keep the account id (the audit trail).
	log := streamKey(chat.KindEdited, room)
	if err := s.eachRecord(ctx, log, accountID, false, func(it recordItem) error {
		if it.Kind != chat.KindEdited {
			return nil
		}
		return s.anonymize(ctx, log, it.ID, accountID)
	}); err != nil {
		return fmt.Errorf("take the account off its edits: %w", err)
	}
	return nil
}

// eachRecord calls fn with each record of stream (from: only the
// account's, and with to those sent to it too), every page of a strongly
// consistent Query.
func (s *Store) eachRecord(ctx context.Context, stream, from string, to bool, fn func(recordItem) error) error {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.names.Messages),
		KeyConditionExpression:    aws.String("#stream = :stream"),
		ExpressionAttributeNames:  map[string]string{"#stream": contract.MessagesStream},
		ExpressionAttributeValues: map[string]types.AttributeValue{":stream": str(stream)},
		ConsistentRead:            aws.Bool(true),
	}
	if from != "" {
		in.FilterExpression = aws.String("#from = :from")
		in.ExpressionAttributeNames["#from"] = "fromAccount"
		in.ExpressionAttributeValues[":from"] = str(from)
		if to {
			in.FilterExpression = aws.String("#from = :from OR contains(#to, :from)")
			in.ExpressionAttributeNames["#to"] = attrToAccounts
		}
	}
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			var it recordItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return err
			}
			if err := fn(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// anonymize removes the account id and username from one record.
func (s *Store) anonymize(ctx context.Context, stream, id, accountID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.names.Messages),
		Key:                       recordKey(stream, id),
		UpdateExpression:          aws.String("REMOVE #from, #user"),
		ConditionExpression:       aws.String("#from = :me"),
		ExpressionAttributeNames:  map[string]string{"#from": "fromAccount", "#user": "fromUsername"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":me": str(accountID)},
	})
	if err != nil && !conditionFailed(err) {
		return err
	}
	return nil
}

// recordKey is the key of one record of the Messages table.
func recordKey(stream, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{contract.MessagesStream: str(stream), contract.MessagesID: str(id)}
}
