// Editing a message: one transaction sets the message's text, the time of
// its last edit and a public message's mentions (on a private message's item and on each reader's copy of
// it) and puts the edit's activity record, which keeps the text before and
// after: the act is logged iff the message is changed, and the record keeps
// every version (docs/design.md, "A message's later changes").

package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// messageKeyOf is the key of a room's message id of kind (public or private).
func messageKeyOf(kind chat.Kind, room, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		contract.MessagesStream: str(streamKey(kind, room)),
		contract.MessagesID:     str(id),
	}
}

// MessageOf implements chat.Store: one consistent GetItem.
func (s *Store) MessageOf(ctx context.Context, kind chat.Kind, room, id string) (chat.Record, error) {
	var it recordItem
	found, err := s.get(ctx, s.names.Messages, messageKeyOf(kind, room, id), &it)
	if err != nil {
		return chat.Record{}, fmt.Errorf("read message: %w", err)
	}
	if !found || it.ExpiresAt < s.now().Unix() || it.Kind != kind {
		return chat.Record{}, chat.ErrNotFound
	}
	return it.record(), nil
}

// EditMessage implements chat.Store: one transaction (the message's update,
// conditioned on it being there, not removed and not edited since msg was
// read; an update of each reader's copy of a private message, conditioned
// on the copy being there; the activity's put). A copy that is gone (its
// account was deleted and its copies forgotten) cancels the transaction,
// which is made again without it: an update would make the copy again. A
// transaction that failed otherwise (the SDK's retries keep its
// ClientRequestToken, so one applied and answered with an error is not
// applied twice) or whose condition on the message failed reads the message
// (consistent GetItem): carrying this call's token, it was applied.
func (s *Store) EditMessage(ctx context.Context, msg chat.Record, activity chat.Record) (chat.Record, bool, error) {
	act, err := attributevalue.MarshalMap(newRecordItem(activity))
	if err != nil {
		return chat.Record{}, false, fmt.Errorf("edit message: %w", err)
	}
	w := newWriteToken()
	at := activity.TS.UnixMilli()
	names := map[string]string{"#id": contract.MessagesID, "#msg": "message", "#at": "editedAt", "#w": "editedToken",
		"#removed": "removedAt"}
	values := map[string]types.AttributeValue{":msg": str(activity.Message), ":at": num(at), ":w": str(w)}
	cond := "attribute_exists(#id) AND attribute_not_exists(#removed) AND "
	if msg.EditToken == "" {
		cond += "attribute_not_exists(#w)"
	} else {
		cond += "#w = :prev"
		values[":prev"] = str(msg.EditToken)
	}
	update := func(key map[string]types.AttributeValue, cond string) types.TransactWriteItem {
		u := &types.Update{TableName: aws.String(s.names.Messages), Key: key,
			UpdateExpression:         aws.String("SET #msg = :msg, #at = :at, #w = :w"),
			ConditionExpression:      aws.String(cond),
			ExpressionAttributeNames: map[string]string{"#id": contract.MessagesID, "#msg": "message", "#at": "editedAt", "#w": "editedToken"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":msg": values[":msg"], ":at": values[":at"], ":w": values[":w"]},
		}
		return types.TransactWriteItem{Update: u}
	}
	main := update(messageKeyOf(msg.Kind, msg.Room, msg.ID), cond)
	main.Update.ExpressionAttributeNames, main.Update.ExpressionAttributeValues = names, values
	if msg.Kind == chat.KindPublic {
		// The new text's mentions replace the old: none removes them.
		names["#mentions"] = "mentions"
		if len(activity.Mentions) == 0 {
			main.Update.UpdateExpression = aws.String(aws.ToString(main.Update.UpdateExpression) + " REMOVE #mentions")
		} else {
			ms, err := attributevalue.Marshal(mentionItems(activity.Mentions))
			if err != nil {
				return chat.Record{}, false, fmt.Errorf("edit message: %w", err)
			}
			values[":mentions"] = ms
			main.Update.UpdateExpression = aws.String(aws.ToString(main.Update.UpdateExpression) + ", #mentions = :mentions")
		}
	}
	copies := []string{}
	if msg.Kind == chat.KindPrivate {
		copies = msg.Readers
	}
	for range 2 {
		items := []types.TransactWriteItem{main, {Put: &types.Put{TableName: aws.String(s.names.Messages), Item: act}}}
		for _, reader := range copies {
			k := map[string]types.AttributeValue{contract.MessagesStream: str(readerKey(msg.Room, reader)), contract.MessagesID: str(msg.ID)}
			items = append(items, update(k, "attribute_exists(#id)"))
		}
		if err = s.transact(ctx, items...); err == nil {
			edited := msg
			edited.Message, edited.Edited, edited.EditToken = activity.Message, activity.TS, w
			if msg.Kind == chat.KindPublic {
				edited.Mentions = activity.Mentions
			}
			return edited, true, nil
		}
		gone := goneCopies(err, copies)
		if len(gone) == 0 {
			break
		}
		copies = without(copies, gone)
	}
	var it recordItem
	found, getErr := s.get(ctx, s.names.Messages, messageKeyOf(msg.Kind, msg.Room, msg.ID), &it)
	switch {
	case getErr != nil:
		return chat.Record{}, false, fmt.Errorf("edit message: %w (then read it: %v)", err, getErr)
	case !transactionConditionFailed(err) && (!found || it.EditedToken != w):
		return chat.Record{}, false, fmt.Errorf("edit message: %w", err)
	case !found:
		return chat.Record{}, false, chat.ErrNotFound
	}
	return it.record(), it.EditedToken == w, nil
}

// goneCopies are the readers whose copy failed its condition (it is gone) in
// a cancelled edit whose message item's condition held. The cancellation's
// reasons are in the order of the transaction's items: the message, the
// activity, then the copies.
func goneCopies(err error, copies []string) []string {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) || len(tc.CancellationReasons) != len(copies)+2 {
		return nil
	}
	if aws.ToString(tc.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
		return nil
	}
	var gone []string
	for i, reader := range copies {
		if aws.ToString(tc.CancellationReasons[i+2].Code) == "ConditionalCheckFailed" {
			gone = append(gone, reader)
		}
	}
	return gone
}

func without(all, drop []string) []string {
	var out []string
	for _, s := range all {
		if !slices.Contains(drop, s) {
			out = append(out, s)
		}
	}
	return out
}
