// Removing a message: one transaction marks the message's item removed
// (its text is kept: the record keeps the message) and puts the removal's
// activity record, so the act is logged iff the message is marked.

package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// messageKey is the key of a room's public message id.
func messageKey(room, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		contract.MessagesStream: str(streamKey(chat.KindPublic, room)),
		contract.MessagesID:     str(id),
	}
}

// Message implements chat.Store: one consistent GetItem.
func (s *Store) Message(ctx context.Context, room, id string) (chat.Record, error) {
	var it recordItem
	found, err := s.get(ctx, s.names.Messages, messageKey(room, id), &it)
	if err != nil {
		return chat.Record{}, fmt.Errorf("read message: %w", err)
	}
	if !found || it.ExpiresAt < s.now().Unix() {
		return chat.Record{}, chat.ErrNotFound
	}
	return it.record(), nil
}

// RemoveMessage implements chat.Store: one transaction (the message's
// update, conditioned on it being there and not removed yet, and the
// activity's put), then a consistent GetItem when the condition failed (it
// was removed already: its removal is returned) or the transaction failed
// otherwise (the SDK's retries keep its ClientRequestToken, so a
// transaction applied but answered with an error is not applied twice; the
// item carrying this call's token says it was applied).
func (s *Store) RemoveMessage(ctx context.Context, room, id string, rm chat.Removal, activity chat.Record) (chat.Removal, bool, error) {
	act, err := attributevalue.MarshalMap(newRecordItem(activity))
	if err != nil {
		return chat.Removal{}, false, fmt.Errorf("remove message: %w", err)
	}
	w := newWriteToken()
	values := map[string]types.AttributeValue{
		":at": num(rm.At.UnixMilli()), ":by": str(rm.By), ":name": str(rm.ByName), ":w": str(w),
	}
	update := "SET #at = :at, #by = :by, #name = :name, #w = :w"
	names := map[string]string{"#id": contract.MessagesID, "#at": "removedAt", "#by": "removedBy",
		"#name": "removedByName", "#w": "removedToken"}
	if rm.ByAccount != "" {
		update += ", #acct = :acct"
		names["#acct"], values[":acct"] = "removedByAccount", str(rm.ByAccount)
	}
	if rm.Reason != "" {
		update += ", #why = :why"
		names["#why"], values[":why"] = "removedReason", str(rm.Reason)
	}
	err = s.transact(ctx,
		types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.names.Messages),
			Key:                       messageKey(room, id),
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String("attribute_exists(#id) AND attribute_not_exists(#at)"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}},
		types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.names.Messages), Item: act}},
	)
	if err == nil {
		return rm, true, nil
	}
	var it recordItem
	found, getErr := s.get(ctx, s.names.Messages, messageKey(room, id), &it)
	switch {
	case getErr != nil:
		return chat.Removal{}, false, fmt.Errorf("remove message: %w (then read it: %v)", err, getErr)
	case !transactionConditionFailed(err) && (!found || it.RemovedToken != w):
		return chat.Removal{}, false, fmt.Errorf("remove message: %w", err)
	case !found:
		return chat.Removal{}, false, chat.ErrNotFound
	case it.RemovedAt == 0:
		// The condition failed on an item that is there and not removed:
		// it was not there yet when the transaction read it.
		return chat.Removal{}, false, chat.ErrNotFound
	}
	got := it.record().Removed
	return *got, it.RemovedToken == w, nil
}
