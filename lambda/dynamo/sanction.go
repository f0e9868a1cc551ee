// An account's sanctions (chat.Sanction) on its item: a number attribute
// each, when it ends (ms; 0 until lifted), put or removed in one
// transaction with the act's activity record.

package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// sanctionAttr is the account item's attribute of a sanction.
func sanctionAttr(s chat.Sanction) string {
	switch {
	case s.Kind == chat.SanctionMute:
		return contract.AccountMutePrefix + s.Room
	case s.Room == "":
		return contract.AccountEnvBan
	}
	return contract.AccountBanPrefix + s.Room
}

// sanctionsFrom reads an account item's sanctions.
func sanctionsFrom(item map[string]types.AttributeValue) (bans, mutes map[string]chat.Sanction) {
	bans, mutes = map[string]chat.Sanction{}, map[string]chat.Sanction{}
	for attr, v := range item {
		n, ok := v.(*types.AttributeValueMemberN)
		if !ok {
			continue
		}
		ms, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			continue
		}
		var until time.Time
		if ms != 0 {
			until = time.UnixMilli(ms)
		}
		if attr == contract.AccountEnvBan {
			bans[""] = chat.Sanction{Kind: chat.SanctionBan, Until: until}
		} else if room, ok := strings.CutPrefix(attr, contract.AccountBanPrefix); ok {
			bans[room] = chat.Sanction{Kind: chat.SanctionBan, Room: room, Until: until}
		} else if room, ok := strings.CutPrefix(attr, contract.AccountMutePrefix); ok {
			mutes[room] = chat.Sanction{Kind: chat.SanctionMute, Room: room, Until: until}
		}
	}
	return bans, mutes
}

// Sanction implements chat.Store: one transaction (the account item's
// update, conditioned on the item being there, carrying this call's
// token; the activity's put), then a consistent GetItem of the item. A
// transaction answered with an error whose token is on the item was
// applied. Made again it puts the same sanction (and logs the act again).
func (s *Store) Sanction(ctx context.Context, accountID string, sn chat.Sanction, lift bool, activity chat.Record) (chat.Account, error) {
	act, err := attributevalue.MarshalMap(newRecordItem(activity))
	if err != nil {
		return chat.Account{}, fmt.Errorf("sanction: %w", err)
	}
	w := newWriteToken()
	names := map[string]string{"#pk": contract.ConnPK, "#s": sanctionAttr(sn), "#w": contract.AccountModerationToken}
	values := map[string]types.AttributeValue{":w": str(w)}
	update := "SET #w = :w REMOVE #s"
	if !lift {
		var until int64
		if !sn.Until.IsZero() {
			until = sn.Until.UnixMilli()
		}
		update, values[":s"] = "SET #w = :w, #s = :s", num(until)
		if sn.Kind == chat.SanctionBan {
			// A $connect racing the ban meets the device version moved
			// and reads the item (and the ban) again.
			update += " ADD #dv :one"
			names["#dv"], values[":one"] = contract.AccountDeviceVersion, num(1)
		}
	}
	err = s.transact(ctx,
		types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.names.Connections),
			Key:                       key(contract.ConnPK, accountKey(accountID)),
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String("attribute_exists(#pk)"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}},
		types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.names.Messages), Item: act}},
	)
	out, getErr := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.names.Connections),
		Key: key(contract.ConnPK, accountKey(accountID)), ConsistentRead: aws.Bool(true)})
	var a chat.Account
	applied := false
	if getErr == nil {
		if a, getErr = accountFrom(accountID, out.Item); getErr == nil {
			t, ok := out.Item[contract.AccountModerationToken].(*types.AttributeValueMemberS)
			applied = ok && t.Value == w
		}
	}
	switch {
	case getErr != nil && err != nil:
		return chat.Account{}, fmt.Errorf("sanction: %w (then read the account: %v)", err, getErr)
	case getErr != nil:
		return chat.Account{}, fmt.Errorf("sanction: read the account: %w", getErr)
	case err == nil:
		return a, nil
	case !a.Known:
		return chat.Account{}, chat.ErrUnknownAccount
	case applied:
		return a, nil // applied, answered with an error
	case transactionConditionFailed(err):
		return chat.Account{}, errors.Join(chat.ErrUnknownAccount, err)
	}
	return chat.Account{}, fmt.Errorf("sanction: %w", err)
}
