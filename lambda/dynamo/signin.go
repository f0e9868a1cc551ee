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

// Reauthed implements chat.Store: one UpdateItem, conditional on a live
// record (not marked for removal) whose sign-in ends before until (a later
// reauth's stays, with its iat) and was not ended by a ban
// (contract.ConnAuthEnded: a ban that landed after the caller's check),
// plus a GetItem when the condition fails.
// Made again it changes nothing.
func (s *Store) Reauthed(ctx context.Context, id string, until, issued time.Time) (chat.Connection, error) {
	in := &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.names.Connections),
		Key:                 key(contract.ConnPK, connKey(id)),
		UpdateExpression:    aws.String("SET #ae = :ae, #ai = :ai"),
		ConditionExpression: aws.String("attribute_exists(#pk) AND attribute_not_exists(#gone) AND (attribute_not_exists(#ae) OR (#ae < :ae AND #ae <> :ended))"),
		ExpressionAttributeNames: map[string]string{"#pk": contract.ConnPK, "#gone": attrGone,
			"#ae": contract.ConnAuthExpiresAt, "#ai": contract.ConnAuthIssuedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ae": num(until.Unix()), ":ai": num(issued.Unix()),
			":ended": num(contract.ConnAuthEnded)},
		ReturnValues: types.ReturnValueAllNew,
	}
	var out *dynamodb.UpdateItemOutput
	err := retryConflicts(ctx, func() (err error) {
		out, err = s.db.UpdateItem(ctx, in)
		return err
	})
	if conditionFailed(err) {
		return s.GetConnection(ctx, id)
	}
	if err != nil {
		return chat.Connection{}, fmt.Errorf("reauth: %w", err)
	}
	var it connItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return chat.Connection{}, fmt.Errorf("reauth: %w", err)
	}
	if it.ExpiresAt < s.now().Unix() {
		return chat.Connection{}, chat.ErrNotFound
	}
	return it.connection(), nil
}

// SignOut implements chat.Store: one UpdateItem of the account's item,
// returning it. Made again it changes the device version once more, which
// only makes a racing put read the item again.
func (s *Store) SignOut(ctx context.Context, accountID string, at time.Time) (chat.Account, error) {
	return s.signOut(ctx, accountID, "", at, false)
}

// SignOutToDelete implements chat.Store: SignOut, and the same update
// records that a deletion made this sign-out (attrDeleting = at) and adds
// the deleting connection to attrDeletingConns.
func (s *Store) SignOutToDelete(ctx context.Context, accountID, conn string, at time.Time) (chat.Account, error) {
	return s.signOut(ctx, accountID, conn, at, true)
}

func (s *Store) signOut(ctx context.Context, accountID, conn string, at time.Time, deleting bool) (chat.Account, error) {
	update, add := "SET #so = :at", " ADD #dv :one"
	names := map[string]string{"#so": attrSignedOut, "#dv": contract.AccountDeviceVersion}
	values := map[string]types.AttributeValue{":at": num(at.UnixMilli()), ":one": num(1)}
	if deleting {
		update += ", #dg = :at"
		names["#dg"] = attrDeleting
	}
	if deleting && conn != "" {
		add += ", #dc :conn"
		names["#dc"] = attrDeletingConns
		values[":conn"] = &types.AttributeValueMemberSS{Value: []string{conn}}
	}
	a, err := s.updateAccount(ctx, accountID, &dynamodb.UpdateItemInput{
		UpdateExpression:          aws.String(update + add),
		ConditionExpression:       aws.String("attribute_not_exists(#so) OR #so < :at"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if conditionFailed(err) && deleting && conn != "" {
		// A later sign-out is recorded (another deletion's, made at the
		// same moment, or this one's applied and retried): the connection
		// still asked for the deletion. The device version moves on, so a
		// tombstone put racing this reads the item again and keeps it.
		delete(names, "#so")
		delete(names, "#dg")
		a, err = s.updateAccount(ctx, accountID, &dynamodb.UpdateItemInput{
			UpdateExpression:          aws.String(add[1:]),
			ConditionExpression:       aws.String("attribute_exists(" + contract.ConnPK + ")"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1), ":conn": values[":conn"]},
		})
	}
	if conditionFailed(err) { // a later sign-out is recorded (or no item)
		return s.Account(ctx, accountID)
	}
	if err != nil {
		return chat.Account{}, fmt.Errorf("sign out everywhere: %w", err)
	}
	return a, nil
}

// attrDeleting is the account item's sign-out (ms) made by a deletion
// (chat.Account.DeletingAt); the tombstone replaces the item.
const attrDeleting = "dg"

// attrDeletingConns is the account item's (and its tombstone's) string set
// of the connections whose own deleteAccount signed it out
// (chat.Account.DeletingConns).
const attrDeletingConns = "dc"

// attrSignedOut is the account item's last sign-out everywhere (ms).
const attrSignedOut = "so"
