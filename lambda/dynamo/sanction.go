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

// banTries bounds a ban's tries while the account's devices come and go:
// each try that loses costs one consistent GetItem and one transaction.
const banTries = 10

// Sanction implements chat.Store: one transaction (the account item's
// update, conditioned on the item being there, carrying this call's
// token; the activity's put), then a consistent GetItem of the item. A
// transaction answered with an error whose token is on the item was
// applied. Made again it puts the same sanction (and logs the act again).
//
// A ban first reads the item (consistently) and its transaction also
// sets authExp to contract.ConnAuthEnded on the record of each of the
// account's devices it concerns (live, in the room, or anywhere for the
// environment; not the actor's own, activity.ConnID; each conditioned on
// the record being there), conditioned on the device version as read: a
// $connect that added a device since, or a removal, fails it, and it reads
// the item again and tries again. A record found gone (its removal had not
// yet taken its device off) is left out of the next try.
func (s *Store) Sanction(ctx context.Context, accountID string, sn chat.Sanction, lift bool, activity chat.Record) (chat.Account, error) {
	act, err := attributevalue.MarshalMap(newRecordItem(activity))
	if err != nil {
		return chat.Account{}, fmt.Errorf("sanction: %w", err)
	}
	w := newWriteToken()
	ban := marks(sn, lift)
	gone := map[string]bool{}
	for try := 1; ; try++ {
		var read chat.Account
		if ban {
			if read, err = s.Account(ctx, accountID); err != nil {
				return chat.Account{}, fmt.Errorf("ban: %w", err)
			}
			if !read.Known {
				return chat.Account{}, chat.ErrUnknownAccount
			}
		}
		// The actor's own connection is never ended by its own act (a
		// moderator who banned themselves by mistake can lift it).
		gone[activity.ConnID] = activity.ConnID != ""
		update, marked := s.sanctionUpdate(accountID, sn, lift, w, read, gone)
		actions := append([]types.TransactWriteItem{update,
			{Put: &types.Put{TableName: aws.String(s.names.Messages), Item: act}}}, s.banMarks(marked)...)
		err = s.transact(ctx, actions...)
		a, applied, getErr := s.sanctioned(ctx, accountID, w)
		if ban && err != nil && getErr == nil && a.Known && !applied && transactionConditionFailed(err) && try < banTries {
			for _, id := range failedMarks(err, marked) {
				gone[id] = true
			}
			continue
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
		case ban && transactionConditionFailed(err):
			return chat.Account{}, fmt.Errorf("ban: the account's devices kept changing: %w", err)
		case transactionConditionFailed(err):
			return chat.Account{}, errors.Join(chat.ErrUnknownAccount, err)
		}
		return chat.Account{}, fmt.Errorf("sanction: %w", err)
	}
}

// sanctionUpdate is the account item's update of a sanction, and for a
// ban or a kick the devices of read whose records it marks (not those
// found gone).
func (s *Store) sanctionUpdate(accountID string, sn chat.Sanction, lift bool, w string, read chat.Account, gone map[string]bool) (types.TransactWriteItem, []string) {
	names := map[string]string{"#pk": contract.ConnPK, "#w": contract.AccountModerationToken}
	values := map[string]types.AttributeValue{":w": str(w)}
	update, cond := "SET #w = :w", "attribute_exists(#pk)"
	var marked []string
	switch {
	case sn.Kind == chat.SanctionKick:
		// A kick changes nothing on the item but its token (whether it was
		// applied, after an error): a $connect after it may come back.
	case lift:
		update += " REMOVE #s"
		names["#s"] = sanctionAttr(sn)
	default:
		var until int64
		if !sn.Until.IsZero() {
			until = sn.Until.UnixMilli()
		}
		update += ", #s = :s"
		names["#s"], values[":s"] = sanctionAttr(sn), num(until)
	}
	if !lift && sn.Kind == chat.SanctionBan {
		// A $connect racing the ban meets the device version moved
		// and reads the item (and the ban) again; the ban meets a
		// device added or removed since it read the item.
		update += " ADD #dv :one"
		names["#dv"], values[":one"] = contract.AccountDeviceVersion, num(1)
		if read.DeviceVersion == 0 {
			cond += " AND attribute_not_exists(#dv)"
		} else {
			cond += " AND #dv = :dv"
			values[":dv"] = num(read.DeviceVersion)
		}
	}
	if marks(sn, lift) {
		now := s.now()
		for _, d := range read.Devices {
			if (sn.Room == "" || d.Room == sn.Room) && !d.ExpiresAt.Before(now) && !gone[d.ConnID] && len(marked) < banMarksMax {
				marked = append(marked, d.ConnID)
			}
		}
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(s.names.Connections),
		Key:                       key(contract.ConnPK, accountKey(accountID)),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}}, marked
}

// marks reports whether a sanction ends the sign-in of the account's
// connection records it concerns: a ban, and a kick (its close may be
// lost as a ban's may).
func marks(sn chat.Sanction, lift bool) bool {
	return !lift && (sn.Kind == chat.SanctionBan || sn.Kind == chat.SanctionKick)
}

// banMarksMax bounds the records one ban marks: a transaction holds at
// most 100 actions, two of them the account's and the activity's. The cap
// on an account's devices (chat.DefaultMaxDevices) is far below it.
const banMarksMax = 98

// banMarks set authExp to contract.ConnAuthEnded on each record, each
// conditioned on the record being there (never made again as a stub).
func (s *Store) banMarks(connIDs []string) []types.TransactWriteItem {
	out := make([]types.TransactWriteItem, len(connIDs))
	for i, id := range connIDs {
		out[i] = types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.names.Connections),
			Key:                       key(contract.ConnPK, connKey(id)),
			UpdateExpression:          aws.String("SET #ae = :ended"),
			ConditionExpression:       aws.String("attribute_exists(#pk)"),
			ExpressionAttributeNames:  map[string]string{"#pk": contract.ConnPK, "#ae": contract.ConnAuthExpiresAt},
			ExpressionAttributeValues: map[string]types.AttributeValue{":ended": num(contract.ConnAuthEnded)},
		}}
	}
	return out
}

// failedMarks are the marked records whose condition failed the
// transaction: gone.
func failedMarks(err error, marked []string) []string {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return nil
	}
	var out []string
	for i, r := range tc.CancellationReasons {
		if i >= 2 && i-2 < len(marked) && aws.ToString(r.Code) == "ConditionalCheckFailed" {
			out = append(out, marked[i-2])
		}
	}
	return out
}

// sanctioned reads the account's item consistently after a sanction's
// transaction, and whether it carries the token w (applied).
func (s *Store) sanctioned(ctx context.Context, accountID, w string) (chat.Account, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.names.Connections),
		Key: key(contract.ConnPK, accountKey(accountID)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return chat.Account{}, false, err
	}
	a, err := accountFrom(accountID, out.Item)
	if err != nil {
		return chat.Account{}, false, err
	}
	t, ok := out.Item[contract.AccountModerationToken].(*types.AttributeValueMemberS)
	return a, ok && t.Value == w, nil
}
