// Removing a connection's record in two steps, so that exactly one caller
// learns it removed it even when DynamoDB applies a step and the SDK retries
// it (docs/design.md, "Writes that are safe to retry"): a mark, which says
// how the record ends, then one transaction that deletes the record with
// its count, signed in its device on the account's item, and logs its end.
// The room is told between the two (chat's connection.go, devices.go,
// stale.go).

package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// MarkRemoved implements chat.Store: one UpdateItem marks the record gone
// with this call's token and end (a retry passes by the same token and
// still gets the record back), plus a GetItem when its condition fails (a record
// marked by another call is returned unmine) or every attempt failed (the
// record may carry this call's token all the same).
func (s *Store) MarkRemoved(ctx context.Context, id string, connectedBefore time.Time, end chat.End) (chat.Connection, bool, error) {
	k := key(contract.ConnPK, connKey(id))
	condition := "attribute_exists(#pk) AND (attribute_not_exists(#gone) OR #gone = :w)"
	update := "SET #gone = :w, #end = :end, #goneAt = :at"
	names := map[string]string{"#pk": contract.ConnPK, "#gone": attrGone, "#end": attrEnd, "#goneAt": attrGoneAt}
	w := newWriteToken()
	values := map[string]types.AttributeValue{":w": str(w), ":end": str(string(end.Kind)), ":at": num(s.now().UnixMilli())}
	if end.By != "" {
		update += ", #by = :by"
		names["#by"] = attrEndBy
		values[":by"] = str(end.By)
	}
	if !connectedBefore.IsZero() {
		condition += " AND #at < :before"
		names["#at"] = attrConnectedAt
		values[":before"] = num(connectedBefore.UnixMilli())
	}
	// Not made again when it meets a transaction on the record (its put, or
	// another removal's delete): the removal is then left to whoever holds
	// the record, or to a later one.
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.names.Connections),
		Key:                       k,
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(condition),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	var it connItem
	switch {
	case conditionFailed(err):
		found, err := s.get(ctx, s.names.Connections, k, &it)
		if err != nil {
			return chat.Connection{}, false, fmt.Errorf("read a connection being removed: %w", err)
		}
		if !found || it.Gone == "" {
			return chat.Connection{}, false, chat.ErrNotFound // none, or spared
		}
		return it.connection(), false, nil
	case err != nil:
		// Every attempt may have failed after the mark was applied: then the
		// record carries this call's token and is this call's to remove.
		found, getErr := s.get(ctx, s.names.Connections, k, &it)
		if getErr != nil || !found || it.Gone != w {
			return chat.Connection{}, false, fmt.Errorf("mark connection removed: %w", err)
		}
	default:
		if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
			return chat.Connection{}, false, fmt.Errorf("decode removed connection: %w", err)
		}
	}
	it.Gone, it.End, it.EndBy = w, end.Kind, end.By
	return it.connection(), true, nil
}

// DeleteMarked implements chat.Store: one transaction deletes the record
// marked c.Mark, takes it from its room's count, puts end in the message
// log and, for a signed-in connection, removes its device (and leaving
// flag) from the account's item; false when the record is no longer there
// with that mark (another call deleted it, counted it and logged its end).
// A retry of a transaction applied but answered with an error passes by
// its token (transact): the end is logged once.
func (s *Store) DeleteMarked(ctx context.Context, c chat.Connection, end chat.Record) (bool, error) {
	logged, err := attributevalue.MarshalMap(newRecordItem(end))
	if err != nil {
		return false, fmt.Errorf("encode the end of connection %s: %w", c.ID, err)
	}
	del := types.TransactWriteItem{Delete: &types.Delete{
		TableName:                 aws.String(s.names.Connections),
		Key:                       key(contract.ConnPK, connKey(c.ID)),
		ConditionExpression:       aws.String("#gone = :gone"),
		ExpressionAttributeNames:  map[string]string{"#gone": attrGone},
		ExpressionAttributeValues: map[string]types.AttributeValue{":gone": str(c.Mark)},
	}}
	put := types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.names.Messages), Item: logged}}
	if c.Person && c.AccountID != "" {
		return s.deletePerson(ctx, c, del, put)
	}
	actions := []types.TransactWriteItem{del, s.countChange(c.Room, c.Shard, -1, time.Time{}), put}
	if c.AccountID != "" {
		actions = append(actions, types.TransactWriteItem{Update: &types.Update{
			TableName:                aws.String(s.names.Connections),
			Key:                      key(contract.ConnPK, accountKey(c.AccountID)),
			UpdateExpression:         aws.String("REMOVE #d, #l"),
			ExpressionAttributeNames: deviceNames(c.ID),
		}})
	}
	err = s.transact(ctx, actions...)
	if transactionConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete connection %s: %w", c.ID, err)
	}
	return true, nil
}

// StillCounted implements chat.Store: one consistent GetItem of the
// record or, for a record counted by its person, of the account's map of
// its records in the room (people.go): the record is in it iff it is there,
// and its delete counts iff no other live record of hers is.
func (s *Store) StillCounted(ctx context.Context, c chat.Connection) (bool, error) {
	if c.Person && c.AccountID != "" {
		recs, err := s.roomMap(ctx, c.AccountID, c.Room)
		if err != nil {
			return false, err
		}
		_, there := recs[c.ID]
		return there && !othersLive(recs, c.ID, s.now()), nil
	}
	var it connItem
	found, err := s.get(ctx, s.names.Connections, key(contract.ConnPK, connKey(c.ID)), &it)
	if err != nil {
		return false, fmt.Errorf("read a connection being removed: %w", err)
	}
	return found && it.Gone != "", nil
}
