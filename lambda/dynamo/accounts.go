// Names owned by accounts (sign-in on): one item per owned name, keyed by
// the name's key (chat.NameKey: folded, then its confusable skeleton), and
// one item per account with its current name, its name version and its
// pending rename (the item's devices are devices.go's). docs/design.md
// ("Names that belong to accounts") gives the rules of each write.

package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
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

const (
	attrOwner     = "owner"
	attrRateLog   = "rl"
	attrNameOwned = contract.RoomIndexName // the name as its owner spells it
)

// ownerItem says which account holds a name. It has no TTL: a name stays
// its account's until the account renames.
type ownerItem struct {
	PK        string `dynamodbav:"pk"`
	Owner     string `dynamodbav:"owner,omitempty"` // none: reserved, not claimed yet
	Name      string `dynamodbav:"name"`
	ClaimedAt int64  `dynamodbav:"claimedAt"` // ms
	Write     string `dynamodbav:"w,omitempty"`
	// ReservedFor is the username the name is reserved for (ReserveUsername):
	// set, the item is never released, never taken as an orphan, and only
	// that username's account claims it (taking it over from a deleted
	// account of the same username). ReservedAt: when, in ms.
	ReservedFor string `dynamodbav:"rf,omitempty"`
	ReservedAt  int64  `dynamodbav:"reservedAt,omitempty"`
}

// accountItem is an account's name, its name and device versions, its
// pending rename and its rate-limit log; its devices are attributes of
// their own (accountFrom).
type accountItem struct {
	PK            string  `dynamodbav:"pk"`
	Name          string  `dynamodbav:"name,omitempty"`
	Write         string  `dynamodbav:"w,omitempty"`
	NameVersion   int64   `dynamodbav:"nv,omitempty"`
	PendingName   string  `dynamodbav:"pn,omitempty"`
	PendingClaim  string  `dynamodbav:"pc,omitempty"`
	DeviceVersion int64   `dynamodbav:"dv,omitempty"`
	RateLog       []int64 `dynamodbav:"rl,omitempty"` // ms of the latest counted units
	ConnectLog    []int64 `dynamodbav:"cl,omitempty"` // ms of the latest counted $connects
	// UsernameReserved: the account's username is reserved for it
	// (MarkUsernameReserved).
	UsernameReserved bool `dynamodbav:"ur,omitempty"`
	// SignedOut is when the account last signed out everywhere (ms).
	SignedOut int64 `dynamodbav:"so,omitempty"`
	// Deleting is the sign-out a deletion made (ms; attrDeleting).
	Deleting int64 `dynamodbav:"dg,omitempty"`
	// DeletingConns: the connections whose deleteAccount signed the
	// account out (attrDeletingConns).
	DeletingConns []string `dynamodbav:"dc,stringset,omitempty"`
	// Rooms are the rooms the account has connected to (AddDevice).
	Rooms []string `dynamodbav:"jr,stringset,omitempty"`
	// Deleted (ms): the item is the deleted account's tombstone
	// (DeleteAccount), with ExpiresAt its TTL.
	Deleted   int64 `dynamodbav:"deleted,omitempty"`
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty"`
	// DeletedDevices (a tombstone's): the connection ids of the devices
	// on the item the tombstone replaced (attrDeletedDevices).
	DeletedDevices []string `dynamodbav:"jd,stringset,omitempty"`
}

func ownerKey(name string) string { return contract.OwnerItemPrefix + chat.NameKey(name) }

func accountKey(id string) string { return contract.AccountItemPrefix + id }

// ClaimAccountName implements chat.Store: one conditional UpdateItem, plus
// two GetItems and a PutItem when another account holds the name. Its
// condition passes for the same account, so a retry of an applied claim
// succeeds too, and for the username a reservation is for while no
// account has claimed it (the first account of the username; a deleted
// account's reservation is deleted with it); the reservation stays on the
// item. The claim returned is the item's write token.
func (s *Store) ClaimAccountName(ctx context.Context, accountID, username, name string) (string, error) {
	now := s.now()
	w := newWriteToken()
	cond := "attribute_not_exists(#pk) OR (attribute_not_exists(#rf) AND #owner = :me)"
	values := map[string]types.AttributeValue{":me": str(accountID), ":name": str(name),
		":at": num(now.UnixMilli()), ":w": str(w)}
	if username != "" {
		// A reservation is claimed by the username's first account, and
		// stays that account's until it is deleted (deleteaccount.go
		// releases it): a recreated account of the username (a new sub)
		// whose old account was never deleted here does not take it.
		cond += " OR (#rf = :user AND (attribute_not_exists(#owner) OR #owner = :me))"
		values[":user"] = str(username)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.names.Connections),
		Key:                 key(contract.ConnPK, ownerKey(name)),
		UpdateExpression:    aws.String("SET #owner = :me, #name = :name, #at = :at, #w = :w"),
		ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: map[string]string{"#pk": contract.ConnPK, "#owner": attrOwner, "#name": attrNameOwned,
			"#at": attrClaimedAt, "#w": attrWrite, "#rf": contract.OwnerReservedFor},
		ExpressionAttributeValues: values,
	})
	if err == nil {
		return w, nil
	}
	if !conditionFailed(err) {
		return "", fmt.Errorf("claim name: %w", err)
	}
	if err := s.takeOwnedOrphan(ctx, ownerItem{PK: ownerKey(name), Owner: accountID, Name: name, ClaimedAt: now.UnixMilli(), Write: w}); err != nil {
		return "", err
	}
	return w, nil
}

// takeOwnedOrphan puts item (the name's new claim or reservation) in place
// of a name whose owner no longer uses it: its account's name is another (a
// claim left by a rename that failed half-way, or by the losing one of two
// concurrent renames), once the claim is older than orphanGrace (younger
// claims may belong to a rename still running). A reserved name is never
// an orphan.
func (s *Store) takeOwnedOrphan(ctx context.Context, item ownerItem) error {
	var held ownerItem
	k := key(contract.ConnPK, item.PK)
	now := time.UnixMilli(item.ClaimedAt)
	if found, err := s.get(ctx, s.names.Connections, k, &held); err != nil {
		return fmt.Errorf("read name owner: %w", err)
	} else if !found || held.ReservedFor != "" || held.Owner == "" || now.Sub(time.UnixMilli(held.ClaimedAt)) < orphanGrace {
		return chat.ErrNameTaken // released just now (the caller may try again), or reserved
	}
	name := item.Name
	holder, err := s.Account(ctx, held.Owner)
	if err != nil {
		return err
	}
	if chat.NameKey(holder.Name) == chat.NameKey(name) {
		return chat.ErrNameTaken
	}
	if holder.PendingName != "" && chat.NameKey(holder.PendingName) == chat.NameKey(name) {
		// The holder renamed away from it, and some connection of it may
		// still carry it: its rename is finished first.
		return &chat.RenamePending{AccountID: held.Owner}
	}
	// The claim read above, unchanged since (not claimed again by its
	// owner, nor reserved).
	return s.takeHeld(ctx, item, attrOwner, held.Owner, held.ClaimedAt, item.Write)
}

// SetAccountName implements chat.Store: one UpdateItem conditional on the
// old name and no pending rename, so of two concurrent renames of one
// account only one lands; its own retry passes by its write token. It
// returns the item after it.
func (s *Store) SetAccountName(ctx context.Context, accountID, old, name, oldClaim string) (chat.Account, error) {
	update := "SET #name = :name, #w = :w, #nv = if_not_exists(#nv, :zero) + :one"
	cond := "attribute_not_exists(#name) OR #w = :w"
	names := map[string]string{"#name": attrNameOwned, "#w": attrWrite, "#nv": contract.NameVersion}
	values := map[string]types.AttributeValue{":name": str(name), ":w": str(newWriteToken()), ":zero": num(0), ":one": num(1)}
	if old != "" {
		cond = "(#name = :old AND attribute_not_exists(#pn)) OR #w = :w"
		names["#pn"] = contract.AccountPendingName
		values[":old"] = str(old)
		// Kept also for a change of case only, whose release is nothing:
		// the rename is told to the rooms until it is forgotten.
		update += ", #pn = :old, #pc = :pc"
		names["#pc"] = contract.AccountPendingClaim
		values[":pc"] = str(cmp.Or(oldClaim, chat.NoClaim))
	}
	a, err := s.updateAccount(ctx, accountID, &dynamodb.UpdateItemInput{
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if conditionFailed(err) {
		return chat.Account{}, chat.ErrConflict
	}
	if err != nil {
		return chat.Account{}, fmt.Errorf("set account name: %w", err)
	}
	return a, nil
}

// ReleaseAccountName implements chat.Store: one DeleteItem, conditional on
// the owner and the claim (the write token of the claim being released):
// the owner claiming the name again in between writes another token, and
// keeps it. A retry of an applied release finds nothing, as it wanted. A
// reserved name (the account's username) is never released.
func (s *Store) ReleaseAccountName(ctx context.Context, accountID, name, claim string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(s.names.Connections),
		Key:                      key(contract.ConnPK, ownerKey(name)),
		ConditionExpression:      aws.String("#owner = :me AND #w = :claim AND attribute_not_exists(#rf)"),
		ExpressionAttributeNames: map[string]string{"#owner": attrOwner, "#w": attrWrite, "#rf": contract.OwnerReservedFor},
		ExpressionAttributeValues: map[string]types.AttributeValue{":me": str(accountID),
			":claim": str(claim)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("release name: %w", err)
	}
	return nil
}

// AccountNameClaim implements chat.Store: one consistent GetItem.
func (s *Store) AccountNameClaim(ctx context.Context, accountID, name string) (string, error) {
	var it ownerItem
	if _, err := s.get(ctx, s.names.Connections, key(contract.ConnPK, ownerKey(name)), &it); err != nil {
		return "", fmt.Errorf("read name owner: %w", err)
	}
	if it.Owner != accountID {
		return "", nil
	}
	return it.Write, nil
}

// NameOwner implements chat.Store: one consistent GetItem.
func (s *Store) NameOwner(ctx context.Context, name string) (string, error) {
	var it ownerItem
	if _, err := s.get(ctx, s.names.Connections, key(contract.ConnPK, ownerKey(name)), &it); err != nil {
		return "", fmt.Errorf("read name owner: %w", err)
	}
	return it.Owner, nil
}

// accountFrom reads an account's item as DynamoDB returns it.
func accountFrom(id string, item map[string]types.AttributeValue) (chat.Account, error) {
	var it accountItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return chat.Account{}, fmt.Errorf("decode account %s: %w", id, err)
	}
	a := chat.Account{ID: id, Name: it.Name, NameVersion: it.NameVersion, PendingName: it.PendingName,
		PendingClaim: it.PendingClaim, DeviceVersion: it.DeviceVersion, UsernameReserved: it.UsernameReserved}
	if it.SignedOut != 0 {
		a.SignedOutAt = time.UnixMilli(it.SignedOut)
	}
	if it.Deleted != 0 {
		a.Deleted = time.UnixMilli(it.Deleted)
	}
	if it.Deleting != 0 {
		a.DeletingAt = time.UnixMilli(it.Deleting)
	}
	a.Rooms = it.Rooms
	slices.Sort(a.Rooms)
	a.DeletedDevices = it.DeletedDevices
	slices.Sort(a.DeletedDevices)
	a.DeletingConns = it.DeletingConns
	slices.Sort(a.DeletingConns)
	for _, ms := range it.ConnectLog {
		a.Connects = append(a.Connects, time.UnixMilli(ms))
	}
	a.Known = len(item) > 0
	a.Bans, a.Mutes = sanctionsFrom(item)
	for attr, v := range item {
		connID, ok := strings.CutPrefix(attr, contract.AccountDevicePrefix)
		m, isMap := v.(*types.AttributeValueMemberM)
		if !ok || !isMap {
			continue
		}
		d := chat.Device{ConnID: connID}
		if r, ok := m.Value[contract.DeviceRoom].(*types.AttributeValueMemberS); ok {
			d.Room = r.Value
		}
		if e, ok := m.Value[contract.DeviceExpiresAt].(*types.AttributeValueMemberN); ok {
			if s, err := strconv.ParseInt(e.Value, 10, 64); err == nil {
				d.ExpiresAt = time.Unix(s, 0)
			}
		}
		_, d.Leaving = item[contract.AccountLeavingPrefix+connID]
		_, d.Told = m.Value[contract.DeviceTold]
		a.Devices = append(a.Devices, d)
	}
	slices.SortFunc(a.Devices, func(x, y chat.Device) int { return strings.Compare(x.ConnID, y.ConnID) })
	return a, nil
}

// Account implements chat.Store: one consistent GetItem.
func (s *Store) Account(ctx context.Context, accountID string) (chat.Account, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.names.Connections),
		Key: key(contract.ConnPK, accountKey(accountID)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return chat.Account{}, fmt.Errorf("read account: %w", err)
	}
	return accountFrom(accountID, out.Item)
}

// updateAccount runs an UpdateItem of the account's item, returning the
// item after it. The item is in the transaction of every removal of one of
// the account's connections: a write that meets one is made again.
func (s *Store) updateAccount(ctx context.Context, accountID string, in *dynamodb.UpdateItemInput) (chat.Account, error) {
	in.TableName = aws.String(s.names.Connections)
	in.Key = key(contract.ConnPK, accountKey(accountID))
	in.ReturnValues = types.ReturnValueAllNew
	var out *dynamodb.UpdateItemOutput
	err := retryConflicts(ctx, func() (err error) {
		out, err = s.db.UpdateItem(ctx, in)
		return err
	})
	if err != nil {
		if conditionFailed(err) {
			return chat.Account{}, err
		}
		return chat.Account{}, fmt.Errorf("update account %s: %w", accountID, err)
	}
	return accountFrom(accountID, out.Attributes)
}

// RenameConnection implements chat.Store: one UpdateItem, conditional on the
// record being live and carrying an older name version (or this call's
// token: its retry), returning the name it had.
func (s *Store) RenameConnection(ctx context.Context, id, name string, nv int64) (string, bool, error) {
	var out *dynamodb.UpdateItemOutput
	err := retryConflicts(ctx, func() (err error) {
		out, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:        aws.String(s.names.Connections),
			Key:              key(contract.ConnPK, connKey(id)),
			UpdateExpression: aws.String("SET #name = :name, #nv = :nv, #w = :w REMOVE #warnCode, #warnMessage"),
			ConditionExpression: aws.String("attribute_exists(#pk) AND attribute_not_exists(#gone) AND " +
				"(attribute_not_exists(#nv) OR #nv < :nv OR #w = :w)"),
			ExpressionAttributeNames: map[string]string{"#pk": contract.ConnPK, "#name": contract.RoomIndexName,
				"#nv": contract.NameVersion, "#w": attrWrite, "#gone": attrGone, "#warnCode": attrWarnCode,
				"#warnMessage": attrWarnMessage},
			ExpressionAttributeValues: map[string]types.AttributeValue{":name": str(name), ":nv": num(nv),
				":w": str(newWriteToken())},
			ReturnValues: types.ReturnValueUpdatedOld,
		})
		return err
	})
	if conditionFailed(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("rename connection %s: %w", id, err)
	}
	var old struct {
		Name string `dynamodbav:"name"`
	}
	_ = attributevalue.UnmarshalMap(out.Attributes, &old)
	return old.Name, true, nil
}

// FinishedRename implements chat.Store: one UpdateItem removing the pending
// rename, conditional on its claim (a later rename's stays).
func (s *Store) FinishedRename(ctx context.Context, accountID, claim string) error {
	_, err := s.updateAccount(ctx, accountID, &dynamodb.UpdateItemInput{
		UpdateExpression:          aws.String("REMOVE #pn, #pc"),
		ConditionExpression:       aws.String("#pc = :pc"),
		ExpressionAttributeNames:  map[string]string{"#pn": contract.AccountPendingName, "#pc": contract.AccountPendingClaim},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pc": str(claim)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("finish rename: %w", err)
	}
	return nil
}

// AccountName returns the account's name, "" before it has one (one
// consistent GetItem of its item): for tests and tools; the chat reads the
// whole item (Account).
func (s *Store) AccountName(ctx context.Context, accountID string) (string, error) {
	a, err := s.Account(ctx, accountID)
	return a.Name, err
}
