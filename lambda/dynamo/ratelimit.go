// Rate limits: a sliding log of the latest counted actions (at most Limit
// timestamps), kept on the item of whoever is limited: the connection's
// own record without sign-in, the account's item with it. docs/design.md
// ("Rate limits") explains the choice and its cost.

package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// chargeAttempts bounds the compare-and-set retries of a full log when
// concurrent actions of the same person keep changing it.
const chargeAttempts = 3

// attrRateWrite is the token of the rate log's last write: a full log is
// replaced only if no other charge wrote it since it was read.
const attrRateWrite = "rw"

// ChargeConnection implements chat.Store. Without sign-in it replaces the
// GetItem of the caller's record: one UpdateItem appends to the record's
// log and returns the record, so a message under the limit costs no extra
// request. See charge for the other cases.
func (s *Store) ChargeConnection(ctx context.Context, id string, l chat.RateLimit) (chat.Connection, error) {
	var it connItem
	live := func(item map[string]types.AttributeValue) bool {
		it = connItem{}
		return len(item) > 0 && attributevalue.UnmarshalMap(item, &it) == nil && it.Gone == "" && it.ExpiresAt >= s.now().Unix()
	}
	err := s.charge(ctx, key(contract.ConnPK, connKey(id)), "attribute_exists(#pk) AND attribute_not_exists(#gone)", live, l)
	if err != nil {
		return chat.Connection{}, err
	}
	return it.connection(), nil
}

// ChargeAccount implements chat.Store: like ChargeConnection, on the
// account's item (made by the first charge if the account has none yet),
// which it returns whole: the account's name and devices come free.
func (s *Store) ChargeAccount(ctx context.Context, accountID string, l chat.RateLimit) (chat.Account, error) {
	var item map[string]types.AttributeValue
	read := func(it map[string]types.AttributeValue) bool {
		item = it
		return true
	}
	if err := s.charge(ctx, key(contract.ConnPK, accountKey(accountID)), "", read, l); err != nil {
		return chat.Account{}, err
	}
	return accountFrom(accountID, item)
}

// charge counts one action in the item's log. Under the limit it is one
// UpdateItem that appends the time, conditional on the log holding fewer
// than l.Limit entries. A full log is read (from the failed condition's
// ALL_OLD where DynamoDB returns it, else a consistent GetItem): when its
// oldest entries have left the window, one more UpdateItem replaces the
// log by its live entries plus this action, conditional on the log read;
// otherwise the action is refused with the time until an entry leaves.
// A log of at most l.Limit entries makes "at most Limit in any Window"
// exact, not a window-boundary approximation. exists, when not empty, is
// the condition for the item to count as there (else ErrNotFound); live
// checks the item returned and must be true for it.
func (s *Store) charge(ctx context.Context, k map[string]types.AttributeValue, exists string,
	live func(map[string]types.AttributeValue) bool, l chat.RateLimit) error {
	names := map[string]string{"#rl": attrRateLog, "#rw": attrRateWrite}
	guard := ""
	if exists != "" {
		names["#pk"], names["#gone"] = contract.ConnPK, attrGone
		guard = exists + " AND "
	}
	if live == nil {
		live = func(map[string]types.AttributeValue) bool { return true }
	}
	now := s.now()
	// mine is the token of this call's latest write: an SDK retry of a
	// write DynamoDB applied fails its condition, and finding mine on the
	// item says the action is already counted (not twice).
	mine := newWriteToken()
	// The item may be in a transaction (a record's put or delete, an
	// account's device removed): a write that meets one is made again.
	var out *dynamodb.UpdateItemOutput
	err := retryConflicts(ctx, func() (err error) {
		out, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:        aws.String(s.names.Connections),
			Key:              k,
			UpdateExpression: aws.String("SET #rl = list_append(if_not_exists(#rl, :empty), :now), #rw = :w"),
			ConditionExpression: aws.String(guard +
				"(attribute_not_exists(#rl) OR size(#rl) < :limit) AND (attribute_not_exists(#rw) OR #rw <> :w)"),
			ExpressionAttributeNames: names,
			ExpressionAttributeValues: map[string]types.AttributeValue{":empty": &types.AttributeValueMemberL{},
				":now": list(now.UnixMilli()), ":limit": num(int64(l.Limit)), ":w": str(mine)},
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		return err
	})
	for attempt := 1; ; attempt++ {
		if err == nil {
			if !live(out.Attributes) {
				return chat.ErrNotFound
			}
			return nil
		}
		var cf *types.ConditionalCheckFailedException
		if !errors.As(err, &cf) {
			return fmt.Errorf("count action: %w", err)
		}
		old := cf.Item
		if old == nil {
			got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.names.Connections), Key: k,
				ConsistentRead: aws.Bool(true)})
			if err != nil {
				return fmt.Errorf("read rate log: %w", err)
			}
			old = got.Item
		}
		if exists != "" && !live(old) {
			return chat.ErrNotFound
		}
		var it struct {
			RateLog []int64 `dynamodbav:"rl"`
			Write   string  `dynamodbav:"rw"`
		}
		if err := attributevalue.UnmarshalMap(old, &it); err != nil {
			return fmt.Errorf("decode rate log: %w", err)
		}
		if it.Write == mine {
			// This call's write was applied; its retry is what failed.
			if !live(old) {
				return chat.ErrNotFound
			}
			return nil
		}
		if attempt > chargeAttempts {
			return chat.ErrConflict
		}
		cutoff := now.Add(-l.Window).UnixMilli()
		kept := make([]int64, 0, len(it.RateLog)+1)
		for _, t := range it.RateLog {
			if t > cutoff {
				kept = append(kept, t)
			}
		}
		if len(kept) >= l.Limit {
			// The entry whose leaving frees a place, +1 ms: at that time
			// it is out of the window.
			free := kept[len(kept)-l.Limit] + l.Window.Milliseconds() + 1
			return &chat.RateLimited{RetryAfter: time.Duration(free-now.UnixMilli()) * time.Millisecond,
				At: time.UnixMilli(now.UnixMilli())}
		}
		// The log as read: its last writer's token. (DynamoDB compares
		// lists with "=", but dynalite does not.)
		unchanged := "#rw = :old"
		mine = newWriteToken()
		values := map[string]types.AttributeValue{":w": str(mine), ":old": str(it.Write)}
		if it.Write == "" {
			unchanged = "attribute_not_exists(#rw)"
			delete(values, ":old")
		}
		kept = append(kept, now.UnixMilli())
		values[":log"] = list(kept...)
		err = retryConflicts(ctx, func() (err error) {
			out, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                 aws.String(s.names.Connections),
				Key:                       k,
				UpdateExpression:          aws.String("SET #rl = :log, #rw = :w"),
				ConditionExpression:       aws.String(guard + unchanged),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: values,
				ReturnValues:              types.ReturnValueAllNew,
			})
			return err
		})
	}
}

func list(ms ...int64) *types.AttributeValueMemberL {
	l := &types.AttributeValueMemberL{Value: make([]types.AttributeValue, len(ms))}
	for i, v := range ms {
		l.Value[i] = &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	return l
}
