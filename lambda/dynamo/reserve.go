// Usernames reserved as names (docs/design.md, "Usernames are reserved at
// sign-up"): the owned name's item carries the username it is reserved for.

package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// ReserveUsername implements chat.Store: one conditional UpdateItem on the
// name's item, which passes when nobody holds the name (or a look-alike:
// the key is the NameKey), when it is already reserved for username (a
// retried trigger, a recreated account), or (accountID given) when the
// account itself holds it by a plain claim. It sets the reservation and
// keeps whatever the item had (its owner, its spelling, its claim). When
// another account holds the name, one GetItem of it and one of its
// account decide whether the claim is an orphan, replaced then by one
// conditional PutItem; else ErrNameTaken.
func (s *Store) ReserveUsername(ctx context.Context, username, name, accountID string) error {
	now := s.now().UnixMilli()
	cond := "attribute_not_exists(#pk) OR #rf = :user"
	values := map[string]types.AttributeValue{":user": str(username), ":name": str(name), ":now": num(now)}
	names := map[string]string{"#pk": contract.ConnPK, "#rf": contract.OwnerReservedFor,
		"#name": attrNameOwned, "#rat": attrReservedAt, "#at": attrClaimedAt}
	if accountID != "" {
		cond += " OR (attribute_not_exists(#rf) AND #owner = :me)"
		values[":me"] = str(accountID)
		names["#owner"] = attrOwner
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.names.Connections),
		Key:       key(contract.ConnPK, ownerKey(name)),
		UpdateExpression: aws.String("SET #rf = :user, #name = if_not_exists(#name, :name), " +
			"#rat = if_not_exists(#rat, :now), #at = if_not_exists(#at, :now)"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if err == nil {
		return nil
	}
	if !conditionFailed(err) {
		return fmt.Errorf("reserve username: %w", err)
	}
	err = s.takeOwnedOrphan(ctx, ownerItem{PK: ownerKey(name), Owner: accountID, Name: name, ClaimedAt: now,
		Write: newWriteToken(), ReservedFor: username, ReservedAt: now})
	if pending := (*chat.RenamePending)(nil); errors.As(err, &pending) {
		// Its holder renamed away from it and has not finished: the name
		// may still show on its connections. Taken later, not now.
		return chat.ErrNameTaken
	}
	return err
}

// MarkUsernameReserved implements chat.Store: one UpdateItem, the same
// again on a retry.
func (s *Store) MarkUsernameReserved(ctx context.Context, accountID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.names.Connections),
		Key:                       key(contract.ConnPK, accountKey(accountID)),
		UpdateExpression:          aws.String("SET #ur = :true"),
		ExpressionAttributeNames:  map[string]string{"#ur": contract.AccountUsernameReserved},
		ExpressionAttributeValues: map[string]types.AttributeValue{":true": &types.AttributeValueMemberBOOL{Value: true}},
	})
	if err != nil {
		return fmt.Errorf("mark the username reserved: %w", err)
	}
	return nil
}
