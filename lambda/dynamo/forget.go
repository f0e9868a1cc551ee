// A deleted account taken off the private messages sent to it (part of
// ForgetAccountRecords; docs/design.md, Deleting an account): its account
// id leaves their toAccounts and readers, in the message's item and in
// every other reader's copy (its own copies are deleted).

package dynamo

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

const (
	attrToAccounts = "toAccounts" // recordItem.ToAccounts
	attrReaders    = "readers"    // recordItem.Readers
)

// dropTries bounds the reads and writes of dropFrom when another write
// changes the record's lists in between (another recipient's deletion).
const dropTries = 5

// dropRecipient takes accountID off it, a private message in its room's
// private stream that names it in toAccounts: every other reader's copy
// first, the message's item last, so a run killed in between finds the
// message again (it still names the account) and does it all again.
func (s *Store) dropRecipient(ctx context.Context, room string, it recordItem, accountID string) error {
	mine := chat.Reader(chat.Connection{AccountID: accountID})
	readers := it.Readers
	if len(readers) == 0 { // a message stored before the item listed its readers
		for _, a := range append([]string{it.FromAccount}, it.ToAccounts...) {
			if r := chat.Reader(chat.Connection{AccountID: a}); a != "" && !slices.Contains(readers, r) {
				readers = append(readers, r)
			}
		}
	}
	for _, r := range readers {
		if r == mine {
			continue
		}
		if err := s.dropFrom(ctx, readerKey(room, r), it.ID, accountID, ""); err != nil {
			return fmt.Errorf("take the account off a copy of a message to it: %w", err)
		}
	}
	if err := s.dropFrom(ctx, it.Stream, it.ID, accountID, mine); err != nil {
		return fmt.Errorf("take the account off a message to it: %w", err)
	}
	return nil
}

// dropFrom removes accountID from the toAccounts of one record, and reader
// from its readers ("" : not them): one UpdateItem removing each at its
// place in the list as read (one consistent Query of the record first),
// conditional on that place holding it still. A condition that fails
// (another deletion's drop moved it) reads again. A record gone, or no
// longer naming the account: nothing.
func (s *Store) dropFrom(ctx context.Context, stream, id, accountID, reader string) error {
	for range dropTries {
		it, ok, err := s.recordAt(ctx, stream, id)
		if err != nil || !ok {
			return err
		}
		in := &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.names.Messages),
			Key:                       recordKey(stream, id),
			ExpressionAttributeNames:  map[string]string{},
			ExpressionAttributeValues: map[string]types.AttributeValue{},
		}
		var remove, cond []string
		for _, l := range []struct {
			attr, name, drop string
			was              []string
		}{{attrToAccounts, "#to", accountID, it.ToAccounts}, {attrReaders, "#rd", reader, it.Readers}} {
			i := slices.Index(l.was, l.drop)
			if l.drop == "" || i < 0 {
				continue
			}
			at := fmt.Sprintf("%s[%d]", l.name, i)
			in.ExpressionAttributeNames[l.name] = l.attr
			in.ExpressionAttributeValues[":"+l.name[1:]] = str(l.drop)
			remove = append(remove, at)
			cond = append(cond, at+" = :"+l.name[1:])
		}
		if len(remove) == 0 {
			return nil
		}
		in.UpdateExpression = aws.String("REMOVE " + strings.Join(remove, ", "))
		in.ConditionExpression = aws.String(strings.Join(cond, " AND "))
		_, err = s.db.UpdateItem(ctx, in)
		if !conditionFailed(err) {
			return err
		}
	}
	return fmt.Errorf("record %s %s changed %d times while the account was taken off it", stream, id, dropTries)
}

// recordAt reads one record of the Messages table (a strongly consistent
// Query of its key: the function's role has no GetItem on the table).
func (s *Store) recordAt(ctx context.Context, stream, id string) (recordItem, bool, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                aws.String(s.names.Messages),
		KeyConditionExpression:   aws.String("#stream = :stream AND #id = :id"),
		ExpressionAttributeNames: map[string]string{"#stream": contract.MessagesStream, "#id": contract.MessagesID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":stream": str(stream), ":id": str(id)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil || len(out.Items) == 0 {
		return recordItem{}, false, err
	}
	var it recordItem
	if err := attributevalue.UnmarshalMap(out.Items[0], &it); err != nil {
		return recordItem{}, false, err
	}
	return it, true, nil
}
