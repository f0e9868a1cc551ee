// A room's presence item and its member list in pages: the count a room
// keeps of its members, the credit its presence announcements spend
// (docs/design.md, Presence in big rooms), and the room index read one
// bounded page at a time.

package dynamo

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

const (
	attrCount  = "count"
	attrCredit = "credit"
)

type roomItem struct {
	PK        string `dynamodbav:"pk"`
	Count     int    `dynamodbav:"count"`
	Credit    int    `dynamodbav:"credit"`
	ExpiresAt int64  `dynamodbav:"expiresAt"` // s, TTL
}

func roomKey(room string) map[string]types.AttributeValue {
	return key(contract.ConnPK, contract.RoomItemPrefix+room)
}

// CountMembers implements chat.Store: one UpdateItem that adds to the
// credit and returns it with the count. The item lives as long as a
// connection could: a room quiet for that long has nobody left in it. The
// count is not changed here but with each record (PutConnection,
// deleteMarked): an ADD applied and then answered with an error would be
// added again by the SDK's retry, which the credit can afford (the next
// announcement comes sooner) and the count cannot.
func (s *Store) CountMembers(ctx context.Context, room string, credit int, expiresAt time.Time) (chat.RoomCount, error) {
	var out *dynamodb.UpdateItemOutput
	err := retryConflicts(ctx, func() (err error) {
		out, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.names.Connections),
			Key:                       roomKey(room),
			UpdateExpression:          aws.String("ADD #credit :c SET #exp = :exp"),
			ExpressionAttributeNames:  map[string]string{"#credit": attrCredit, "#exp": contract.ConnExpiresAt},
			ExpressionAttributeValues: map[string]types.AttributeValue{":c": num(int64(credit)), ":exp": num(expiresAt.Unix())},
			ReturnValues:              types.ReturnValueAllNew,
		})
		return err
	})
	if err != nil {
		return chat.RoomCount{}, fmt.Errorf("count members of %s: %w", room, err)
	}
	var it roomItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return chat.RoomCount{}, fmt.Errorf("decode the count of %s: %w", room, err)
	}
	return chat.RoomCount{Count: max(it.Count, 0), Credit: it.Credit}, nil
}

// SpendCredit implements chat.Store: one conditional UpdateItem.
func (s *Store) SpendCredit(ctx context.Context, room string, cost int) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.names.Connections),
		Key:                       roomKey(room),
		UpdateExpression:          aws.String("SET #credit = #credit - :cost"),
		ConditionExpression:       aws.String("#credit >= :cost"),
		ExpressionAttributeNames:  map[string]string{"#credit": attrCredit},
		ExpressionAttributeValues: map[string]types.AttributeValue{":cost": num(int64(cost))},
	})
	if conditionFailed(err) || conflicted(err) {
		return false, nil // spent by another, or the item is in a transaction: the next join or leave spends it
	}
	if err != nil {
		return false, fmt.Errorf("spend presence credit of %s: %w", room, err)
	}
	return true, nil
}

// conflictAttempts bounds the attempts of a write to the room item that
// found it in another transaction (each join and leave in the room runs
// one): DynamoDB refuses such a write without applying it, and the SDK does
// not retry it.
const conflictAttempts = 8

// retryConflicts runs write until it does not conflict with a
// transaction, at most conflictAttempts times, after a short random pause.
// It makes no attempt inside the invocation's deadline margin
// (chat.RetryAllowed): a write that still conflicts then fails, and its
// caller leaves the work for later, instead of the invocation running to
// its deadline (up to 128 removals of one broadcast retry at once).
func retryConflicts(ctx context.Context, write func() error) error {
	var err error
	for attempt := range conflictAttempts {
		if err = write(); !conflicted(err) || attempt == conflictAttempts-1 {
			return err
		}
		pause := time.Duration(1+rand.IntN(10<<attempt)) * time.Millisecond
		if !chat.RetryAllowed(ctx, pause) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		if !chat.RetryAllowed(ctx, 0) {
			return err // the pause ended late: the machine is busy
		}
	}
	return err
}

// conflicted reports a write refused (and not applied) because an item it
// touches is in another transaction.
func conflicted(err error) bool {
	var tc *types.TransactionConflictException
	if errors.As(err, &tc) {
		return true
	}
	var cancelled *types.TransactionCanceledException
	return errors.As(err, &cancelled) && slices.ContainsFunc(cancelled.CancellationReasons, func(r types.CancellationReason) bool {
		return aws.ToString(r.Code) == "TransactionConflict"
	})
}

// RoomCount implements chat.Store: one strongly consistent GetItem.
func (s *Store) RoomCount(ctx context.Context, room string) (int, error) {
	var it roomItem
	found, err := s.get(ctx, s.names.Connections, roomKey(room), &it)
	if err != nil {
		return 0, fmt.Errorf("read the count of %s: %w", room, err)
	}
	if !found || it.ExpiresAt < s.now().Unix() {
		return 0, nil
	}
	return max(it.Count, 0), nil
}

// cursorIDMax bounds the connection id a members cursor carries.
const cursorIDMax = 128

// MembersPage implements chat.Store: one Query of the room's partition of
// the room index, at most limit items, starting after the cursor. The
// cursor is the last item's connection id, which with the room makes the
// index's key (and the table's, c#<id>).
func (s *Store) MembersPage(ctx context.Context, room, cursor string, limit int) ([]chat.Member, string, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.names.Connections),
		IndexName:                 aws.String(contract.RoomIndex),
		KeyConditionExpression:    aws.String("#room = :room"),
		ExpressionAttributeNames:  map[string]string{"#room": contract.ConnRoom},
		ExpressionAttributeValues: map[string]types.AttributeValue{":room": str(room)},
		Limit:                     aws.Int32(int32(limit)),
	}
	if cursor != "" {
		id, err := base64.RawURLEncoding.DecodeString(cursor)
		// A connection id (API Gateway's are 16 characters): a longer or
		// non-UTF-8 one was never made here, and past DynamoDB's key limits
		// it would fail the Query as an internal error.
		if err != nil || len(id) == 0 || len(id) > cursorIDMax || !utf8.Valid(id) {
			return nil, "", chat.ErrBadCursor
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			contract.ConnRoom: str(room), contract.ConnID: str(string(id)), contract.ConnPK: str(connKey(string(id))),
		}
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("query a page of room %s: %w", room, err)
	}
	var items []connItem
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		return nil, "", fmt.Errorf("decode a page of room %s: %w", room, err)
	}
	now := s.now().Unix()
	members := make([]chat.Member, 0, len(items))
	for _, it := range items {
		if it.ExpiresAt >= now {
			members = append(members, chat.Member{ConnID: it.ConnectionID, Name: it.Name, AccountID: it.AccountID})
		}
	}
	next := ""
	if last, ok := out.LastEvaluatedKey[contract.ConnID].(*types.AttributeValueMemberS); ok {
		next = base64.RawURLEncoding.EncodeToString([]byte(last.Value))
	}
	return members, next, nil
}
