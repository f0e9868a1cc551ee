// Rate limits: a sliding log of the latest counted units (at most Limit
// timestamps; an action of cost k adds k), kept on the item of whoever is
// limited: the connection's own record without sign-in, the account's item
// with it. An account's $connects have a log of their own on its item.
// docs/design.md ("Rate limits") explains the choice and its cost.

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
// attrConnectLog and attrConnectWrite are the same for $connects.
const (
	attrRateWrite    = "rw"
	attrConnectLog   = "cl"
	attrConnectWrite = "cw"
)

// rateLog names a log's attributes.
type rateLog struct{ log, write string }

var (
	budgetLog  = rateLog{attrRateLog, attrRateWrite}
	connectLog = rateLog{attrConnectLog, attrConnectWrite}
)

// ChargeConnection implements chat.Store. Without sign-in it replaces the
// GetItem of the caller's record: one UpdateItem appends to the record's
// log and returns the record, so a message under the limit costs no extra
// request. See charge for the other cases.
func (s *Store) ChargeConnection(ctx context.Context, id string, l chat.RateLimit, units int) (chat.Connection, error) {
	var it connItem
	live := func(item map[string]types.AttributeValue) bool {
		it = connItem{}
		return len(item) > 0 && attributevalue.UnmarshalMap(item, &it) == nil && it.Gone == "" && it.ExpiresAt >= s.now().Unix()
	}
	err := s.charge(ctx, key(contract.ConnPK, connKey(id)), "attribute_exists(#pk) AND attribute_not_exists(#gone)", live, l,
		budgetLog, units)
	if err != nil {
		return chat.Connection{}, err
	}
	return it.connection(), nil
}

// ChargeAccount implements chat.Store: like ChargeConnection, on the
// account's item (made by the first charge if the account has none yet),
// which it returns whole: the account's name and devices come free.
func (s *Store) ChargeAccount(ctx context.Context, accountID string, l chat.RateLimit, units int) (chat.Account, error) {
	return s.chargeAccount(ctx, accountID, l, budgetLog, units)
}

// ChargeConnect implements chat.Store: ChargeAccount on the account's
// connect log. It replaces the $connect's read of the account.
func (s *Store) ChargeConnect(ctx context.Context, accountID string, l chat.RateLimit) (chat.Account, error) {
	return s.chargeAccount(ctx, accountID, l, connectLog, 1)
}

func (s *Store) chargeAccount(ctx context.Context, accountID string, l chat.RateLimit, log rateLog, units int) (chat.Account, error) {
	var item map[string]types.AttributeValue
	read := func(it map[string]types.AttributeValue) bool {
		item = it
		return true
	}
	if err := s.charge(ctx, key(contract.ConnPK, accountKey(accountID)), "", read, l, log, units); err != nil {
		return chat.Account{}, err
	}
	return accountFrom(accountID, item)
}

// charge counts units (at least one, at most l.Limit) in the item's log.
// Under the limit it is one UpdateItem that appends the time units times,
// conditional on the log holding at most l.Limit-units entries. A full log is read (from the failed condition's
// ALL_OLD where DynamoDB returns it, else a consistent GetItem): when its
// oldest entries have left the window, one more UpdateItem replaces the
// log by its live entries plus this action, conditional on the log read;
// otherwise the action is refused with the time until enough entries leave.
// A log of at most l.Limit entries makes "at most Limit in any Window"
// exact, not a window-boundary approximation. exists, when not empty, is
// the condition for the item to count as there (else ErrNotFound); live
// checks the item returned and must be true for it.
func (s *Store) charge(ctx context.Context, k map[string]types.AttributeValue, exists string,
	live func(map[string]types.AttributeValue) bool, l chat.RateLimit, log rateLog, units int) error {
	units = min(max(units, 1), l.Limit)
	names := map[string]string{"#rl": log.log, "#rw": log.write}
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
				"(attribute_not_exists(#rl) OR size(#rl) <= :most) AND (attribute_not_exists(#rw) OR #rw <> :w)"),
			ExpressionAttributeNames: names,
			ExpressionAttributeValues: map[string]types.AttributeValue{":empty": &types.AttributeValueMemberL{},
				":now": list(repeat(now.UnixMilli(), units)...), ":most": num(int64(l.Limit - units)), ":w": str(mine)},
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
		if conflicted(err) {
			return fmt.Errorf("count action: %w: %w", chat.ErrHeld, err)
		}
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
			RateLog []int64
			Write   string
		}
		if err := attributevalue.Unmarshal(old[log.log], &it.RateLog); old[log.log] != nil && err != nil {
			return fmt.Errorf("decode rate log: %w", err)
		}
		if w, ok := old[log.write].(*types.AttributeValueMemberS); ok {
			it.Write = w.Value
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
		if len(kept)+units > l.Limit {
			// The entry whose leaving frees enough places, +1 ms: at that
			// time it is out of the window.
			free := kept[len(kept)+units-l.Limit-1] + l.Window.Milliseconds() + 1
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
		kept = append(kept, repeat(now.UnixMilli(), units)...)
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

func repeat(v int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func list(ms ...int64) *types.AttributeValueMemberL {
	l := &types.AttributeValueMemberL{Value: make([]types.AttributeValue, len(ms))}
	for i, v := range ms {
		l.Value[i] = &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	return l
}
