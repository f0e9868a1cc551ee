// A room's pending settle (docs/design.md, The page converges: the settle
// timer): a token and the time it holds the room until, on the room's item,
// written with conditional UpdateItems so that one settle message is
// pending per room per quiet spell.

package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
)

const (
	attrSettle      = "settle"      // roomItem.Settle
	attrSettleUntil = "settleUntil" // roomItem.SettleUntil
)

// ArmSettle implements chat.Store: one conditional UpdateItem of the room
// item, which must exist (the change's count made it). It takes the room
// when no settle is pending, when the pending one's hold has ended, or
// when this token holds it already (the SDK's retry of a write DynamoDB
// applied and answered with an error).
func (s *Store) ArmSettle(ctx context.Context, room, token string, until, now time.Time) (bool, error) {
	err := retryConflicts(ctx, func() error {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:        aws.String(s.names.Connections),
			Key:              roomKey(room),
			UpdateExpression: aws.String("SET #settle = :t, #until = :until"),
			ConditionExpression: aws.String("attribute_exists(#pk) AND (attribute_not_exists(#settle) OR #until < :now " +
				"OR #settle = :t)"),
			ExpressionAttributeNames: map[string]string{"#pk": contract.ConnPK, "#settle": attrSettle, "#until": attrSettleUntil},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(token), ":until": num(until.UnixMilli()),
				":now": num(now.UnixMilli())},
		})
		return err
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("arm the settle of %s: %w", room, err)
	}
	return true, nil
}

// HoldSettle implements chat.Store: one conditional UpdateItem.
func (s *Store) HoldSettle(ctx context.Context, room, token string, until time.Time) (bool, error) {
	err := retryConflicts(ctx, func() error {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.names.Connections),
			Key:                       roomKey(room),
			UpdateExpression:          aws.String("SET #until = :until"),
			ConditionExpression:       aws.String("#settle = :t"),
			ExpressionAttributeNames:  map[string]string{"#settle": attrSettle, "#until": attrSettleUntil},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(token), ":until": num(until.UnixMilli())},
		})
		return err
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("hold the settle of %s: %w", room, err)
	}
	return true, nil
}

// EndSettle implements chat.Store: one conditional UpdateItem; a settle
// another token holds (or none) is left as it is.
func (s *Store) EndSettle(ctx context.Context, room, token string) error {
	err := retryConflicts(ctx, func() error {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.names.Connections),
			Key:                       roomKey(room),
			UpdateExpression:          aws.String("REMOVE #settle, #until"),
			ConditionExpression:       aws.String("#settle = :t"),
			ExpressionAttributeNames:  map[string]string{"#settle": attrSettle, "#until": attrSettleUntil},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(token)},
		})
		return err
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("end the settle of %s: %w", room, err)
	}
	return nil
}
