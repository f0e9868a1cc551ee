// A signed-in person counts once in a room however many of the account's
// connections are there (docs/design.md, "The count counts people"). The
// account's item keeps, per room, the account's connection records there
// (r_<room>: connection id to the record's expiresAt), changed only in the
// transaction that puts or deletes such a record. That transaction adds one
// to the room's count when it adds the map (the account's first record
// there) and takes one when it removes the map (its last), conditional on
// the map as the writer saw it, so the count is the number of accounts with
// a record in the room (plus the records without sign-in), whatever order
// the transactions run in.

package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// attrPerson marks a record counted by its person (chat.Connection.Person).
const attrPerson = "person"

// personTries bounds the transactions of one put or delete whose condition
// on the account's room map failed: each failure means another record of
// the account in the room was put or deleted in between, and is tried
// again with the map as it is now.
const personTries = 6

// personShard is the shard of a room's count that counts a signed-in
// person: fixed by the account, so every record of the account in the room
// names it (connItem.Shard) and the last one's delete takes from the shard
// the first one's put added to, whichever they are. A put that conflicts
// retries on it, as a removal does on its record's shard.
func personShard(accountID string) int {
	return shardOf(contract.AccountItemPrefix+accountID, 0)
}

// roomMapNames are the expression attribute names of the account's map of
// its records in room (#r) and of this record's entry in it (#me).
func roomMapNames(room, connID string) map[string]string {
	return map[string]string{"#r": contract.AccountRoomPrefix + room, "#me": connID, "#rv": contract.AccountRoomsVersion}
}

// bumpRooms is the clause of an UpdateExpression that changes the
// account's room maps: their version (contract.AccountRoomsVersion) one
// more, so a deletion that read them before cannot put its tombstone.
const bumpRooms = " ADD #rv :one"

// personPut is what a signed-in record's put changes besides the record:
// the account's map of its records in the room, and the person's shard of
// the room's count. first: the map is not there, and the person is counted
// (one more on the shard); otherwise the record joins the map, and the
// shard is only kept as long as the record (its expiresAt), not counted.
// Either way the shard's version moves by one (countChange): every put
// and delete of a record does, so a removal's confirm can tell that
// nothing but its own delete came between its read and its delete.
func (s *Store) personPut(c chat.Connection, first bool) []types.TransactWriteItem {
	shard := personShard(c.AccountID)
	exp := num(c.ExpiresAt.Unix())
	names := roomMapNames(c.Room, c.ID)
	u := &types.Update{
		TableName:                 aws.String(s.names.Connections),
		Key:                       key(contract.ConnPK, accountKey(c.AccountID)),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)},
	}
	var count types.TransactWriteItem
	if first {
		delete(names, "#me")
		u.UpdateExpression = aws.String("SET #r = :map" + bumpRooms)
		u.ConditionExpression = aws.String("attribute_not_exists(#r)")
		u.ExpressionAttributeValues[":map"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{c.ID: exp}}
		count = s.countChange(c.Room, shard, 1, c.ExpiresAt)
	} else {
		u.UpdateExpression = aws.String("SET #r.#me = :e" + bumpRooms)
		u.ConditionExpression = aws.String("attribute_exists(#r)")
		u.ExpressionAttributeValues[":e"] = exp
		count = s.countChange(c.Room, shard, 0, c.ExpiresAt)
	}
	return []types.TransactWriteItem{count, {Update: u}}
}

// putPerson runs a signed-in record's put (put: the record's Put and its
// activity) with personPut, first guessing from c.PersonHere; a condition on
// the account's map that fails (another record of the account in the room
// was put or deleted since the guess) is tried the other way.
func (s *Store) putPerson(ctx context.Context, c chat.Connection, put types.TransactWriteItem, logged []types.TransactWriteItem) error {
	first := !c.PersonHere
	var err error
	for range personTries {
		err = s.transact(ctx, append(append([]types.TransactWriteItem{put}, s.personPut(c, first)...), logged...)...)
		if conflicted(err) {
			// Nothing applied: the account's other connects and closes
			// kept its item (or her shard) in their transactions. The
			// caller counts her devices again before it tries again.
			return fmt.Errorf("%w: %w", chat.ErrDevicesChanged, err)
		}
		if !conditionFailedAt(err, 2) || conditionFailedAt(err, 0) {
			return err
		}
		first = !first
	}
	return err
}

// roomMap reads the account's map of its records in room (one consistent
// GetItem of the account's item): connection id to expiresAt.
func (s *Store) roomMap(ctx context.Context, accountID, room string) (map[string]time.Time, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.names.Connections),
		Key: key(contract.ConnPK, accountKey(accountID)), ConsistentRead: aws.Bool(true),
		ProjectionExpression:     aws.String("#r"),
		ExpressionAttributeNames: map[string]string{"#r": contract.AccountRoomPrefix + room}})
	if err != nil {
		return nil, fmt.Errorf("read account %s: %w", accountID, err)
	}
	m, _ := out.Item[contract.AccountRoomPrefix+room].(*types.AttributeValueMemberM)
	recs := map[string]time.Time{}
	if m == nil {
		return recs, nil
	}
	for id, v := range m.Value {
		var at int64
		if n, ok := v.(*types.AttributeValueMemberN); ok {
			at, _ = strconv.ParseInt(n.Value, 10, 64)
		}
		recs[id] = time.Unix(at, 0)
	}
	return recs, nil
}

// personDelete is what the delete of a signed-in record counted by its
// person changes besides the record, given the account's map of its
// records in the room as read (recs): the account's item (its device, and
// the record's entry in the map, conditional on the map as read) and, when
// no other live record of the account is in the map (it is her last), the
// person's shard of the count, minus one with the whole map. Entries of
// records past their expiry go with the map: their connections are closed
// (API Gateway closes a connection within its records' TTL), and their
// records, if they are still there, are deleted without counting (not in
// the map any more).
func (s *Store) personDelete(c chat.Connection, recs map[string]time.Time) []types.TransactWriteItem {
	names := deviceNames(c.ID)
	for k, v := range roomMapNames(c.Room, c.ID) {
		names[k] = v
	}
	one := map[string]types.AttributeValue{":one": num(1)}
	u := &types.Update{
		TableName:                aws.String(s.names.Connections),
		Key:                      key(contract.ConnPK, accountKey(c.AccountID)),
		ExpressionAttributeNames: names,
	}
	if _, in := recs[c.ID]; !in {
		// Not in the map: a record whose entry went with the map as past
		// its expiry. Deleted without counting.
		delete(names, "#rv")
		u.UpdateExpression = aws.String("REMOVE #d, #l")
		u.ConditionExpression = aws.String("attribute_not_exists(#r.#me)")
		return []types.TransactWriteItem{s.countChange(c.Room, c.Shard, 0, time.Time{}), {Update: u}}
	}
	now := s.now()
	var dead []string
	for id, exp := range recs {
		if id == c.ID {
			continue
		}
		if !exp.Before(now) {
			// Another live record: she stays, and the count with her.
			u.UpdateExpression = aws.String("REMOVE #r.#me, #d, #l" + bumpRooms)
			u.ConditionExpression = aws.String("attribute_exists(#r.#me) AND attribute_exists(#r.#other)")
			u.ExpressionAttributeValues = one
			names["#other"] = id
			return []types.TransactWriteItem{s.countChange(c.Room, c.Shard, 0, time.Time{}), {Update: u}}
		}
		dead = append(dead, id)
	}
	cond := "attribute_exists(#r.#me) AND size(#r) = :n"
	for i, id := range dead {
		n := "#x" + strconv.Itoa(i)
		names[n] = id
		cond += " AND attribute_exists(#r." + n + ")"
	}
	u.UpdateExpression = aws.String("REMOVE #r, #d, #l" + bumpRooms)
	u.ConditionExpression = aws.String(cond)
	one[":n"] = num(int64(len(recs)))
	u.ExpressionAttributeValues = one
	return []types.TransactWriteItem{s.countChange(c.Room, c.Shard, -1, time.Time{}), {Update: u}}
}

// deletePerson runs the delete of a signed-in record counted by its person
// (the record's Delete and its end's Put given): it reads the account's map
// of its records in the room and deletes with personDelete; when the map
// changed in between (another record of hers put or deleted), it reads it
// again and tries again. False when the record's own condition failed
// (another removal deleted it).
func (s *Store) deletePerson(ctx context.Context, c chat.Connection, del, end types.TransactWriteItem) (bool, error) {
	var err error
	for range personTries {
		recs, rerr := s.roomMap(ctx, c.AccountID, c.Room)
		if rerr != nil {
			return false, rerr
		}
		actions := append([]types.TransactWriteItem{del, end}, s.personDelete(c, recs)...)
		err = s.transact(ctx, actions...)
		switch {
		case err == nil:
			return true, nil
		case conditionFailedAt(err, 0):
			return false, nil
		case !conditionFailedAt(err, len(actions)-1):
			return false, fmt.Errorf("delete connection %s: %w", c.ID, err)
		}
	}
	return false, fmt.Errorf("delete connection %s: the account's records in the room kept changing: %w", c.ID, err)
}

// othersLive reports whether recs, an account's records in a room, has a
// live one other than id.
func othersLive(recs map[string]time.Time, id string, now time.Time) bool {
	for other, exp := range recs {
		if other != id && !exp.Before(now) {
			return true
		}
	}
	return false
}

// conditionFailedAt reports a transaction cancelled because the condition
// of its i-th action failed.
func conditionFailedAt(err error, i int) bool {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) || i >= len(tc.CancellationReasons) {
		return false
	}
	return aws.ToString(tc.CancellationReasons[i].Code) == "ConditionalCheckFailed"
}
