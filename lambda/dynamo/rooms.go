// A room's presence items and its member list in pages: the count a room
// keeps of its members, split over shards so that a busy room's joins and
// leaves seldom meet on one item, the credit its presence announcements
// spend (docs/design.md, Presence in big rooms), and the room index read
// one bounded page at a time.

package dynamo

import (
	"context"
	"encoding/base64"
	"fmt"
	"hash/fnv"
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
	attrShard  = "shard" // connItem.Shard
	// attrVersion counts the changes of a shard's count (roomItem.Version).
	attrVersion = "v"
)

type roomItem struct {
	PK     string `dynamodbav:"pk"`
	Count  int    `dynamodbav:"count"`
	Credit int    `dynamodbav:"credit"`
	// Version grows by one with every change of Count (countChange); it
	// starts at the time the item was made (ms), so a shard that expired,
	// was deleted by TTL and is made again starts above where it was.
	Version   int64 `dynamodbav:"v"`
	ExpiresAt int64 `dynamodbav:"expiresAt"` // s, TTL
	// Settle is the token of the room's pending settle, SettleUntil (ms)
	// when its hold ends (settle.go); only on the room item.
	Settle      string `dynamodbav:"settle,omitempty"`
	SettleUntil int64  `dynamodbav:"settleUntil,omitempty"`
}

func roomKey(room string) map[string]types.AttributeValue {
	return key(contract.ConnPK, contract.RoomItemPrefix+room)
}

// countShards is how many items a room's count is split over. Every join
// and leave changes one of them in the same transaction as the record it
// counts, and DynamoDB cancels a transaction that meets another on one of
// its items: on the room's one item, 1,000 joins in 10 s had 60% of the
// $connects refused, eight attempts each. With 16 shards a burst of 200
// stale removals (128 at once) still ran some out of attempts, with 32
// when transactions held their items 40 ms; 48 took both. One Query of
// 1 RRU reads them all: 48 items of at most 72 bytes stay inside the 4 KB
// a read unit reads (docs/design.md, A busy room).
const countShards = 48

// shardOf is the shard of its room's count that counts a connection,
// 1 to countShards: chosen from its id, and the next one for each attempt
// of its put that found the shard in another transaction (joins spread
// over the shards and a conflict is not met again). The record keeps it
// (connItem.Shard), so its removal takes it from the same shard whatever
// countShards is then.
func shardOf(connID string, attempt int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(connID))
	return 1 + int((h.Sum32()+uint32(attempt))%countShards)
}

// shardItem is the table and key of one shard of a room's count: an item
// of the Messages table's partition "count#<room>" (sort key: the shard),
// which one Query reads whole; the Connections table has no sort key, so
// its items could only be read one by one (a BatchGetItem of 48 costs 48
// RRU). Shard 0 is the room item, which counted the records from before
// the shards.
func (s *Store) shardItem(room string, shard int) (string, map[string]types.AttributeValue) {
	if shard == 0 {
		return s.names.Connections, roomKey(room)
	}
	return s.names.Messages, map[string]types.AttributeValue{
		contract.MessagesStream: str(contract.CountStreamPrefix + room), contract.MessagesID: str(fmt.Sprint(shard)),
	}
}

// CountMembers implements chat.Store: one UpdateItem of the room item that
// adds to the credit and returns it, and the Query of the count's shards
// (countOf). The room item lives as long as a connection could: a room
// quiet for that long has nobody left in it. The count is not changed here
// but with each record (PutConnection, deleteMarked): an ADD applied and
// then answered with an error would be added again by the SDK's retry,
// which the credit can afford (the next announcement comes sooner) and the
// count cannot. The room item is in no transaction (except the removal of
// a record from before the shards), so its credit does not wait for the
// room's joins and leaves.
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
	sharded, err := s.countOf(ctx, room)
	if err != nil {
		return chat.RoomCount{}, err
	}
	return chat.RoomCount{Count: max(it.Count+sharded.Count, 0), Credit: it.Credit, Version: it.Version + sharded.Version}, nil
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

// ReadCount implements chat.Store: a strongly consistent GetItem of the
// room item (its count of the records from before the shards) and a
// strongly consistent Query of the count's shards. Credit is not read.
func (s *Store) ReadCount(ctx context.Context, room string) (chat.RoomCount, error) {
	rc, _, err := s.ReadSettle(ctx, room)
	return rc, err
}

// ReadSettle implements chat.Store: ReadCount's reads, and the token of
// the room's pending settle from its item.
func (s *Store) ReadSettle(ctx context.Context, room string) (chat.RoomCount, string, error) {
	var it roomItem
	found, err := s.get(ctx, s.names.Connections, roomKey(room), &it)
	if err != nil {
		return chat.RoomCount{}, "", fmt.Errorf("read the count of %s: %w", room, err)
	}
	before := 0
	if found && it.ExpiresAt >= s.now().Unix() {
		before = it.Count
	}
	sharded, err := s.countOf(ctx, room)
	if err != nil {
		return chat.RoomCount{}, "", err
	}
	return chat.RoomCount{Count: max(before+sharded.Count, 0), Version: it.Version + sharded.Version}, it.Settle, nil
}

// RoomCount is ReadCount's count alone, for tests and tools.
func (s *Store) RoomCount(ctx context.Context, room string) (int, error) {
	rc, err := s.ReadCount(ctx, room)
	return rc.Count, err
}

// countOf sums a room's count over its shards, read with one strongly
// consistent Query of their partition. Each shard counts the records that
// name it (connItem.Shard), so the sum (with the room item's own) is the
// room's records. An expired shard counts nothing: the records it counted
// have expired too (its expiresAt moves on with each record it counts).
// The version is the sum of every shard's, expired or not: it grows with
// every change of the count, and only then (docs/design.md, The count's
// version).
func (s *Store) countOf(ctx context.Context, room string) (chat.RoomCount, error) {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.names.Messages),
		KeyConditionExpression:    aws.String("#stream = :stream"),
		ExpressionAttributeNames:  map[string]string{"#stream": contract.MessagesStream},
		ExpressionAttributeValues: map[string]types.AttributeValue{":stream": str(contract.CountStreamPrefix + room)},
		ConsistentRead:            aws.Bool(true),
	})
	now, sum := s.now().Unix(), chat.RoomCount{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return chat.RoomCount{}, fmt.Errorf("read the count of %s: %w", room, err)
		}
		var shards []roomItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &shards); err != nil {
			return chat.RoomCount{}, fmt.Errorf("decode the count of %s: %w", room, err)
		}
		for _, sh := range shards {
			if sh.ExpiresAt >= now {
				sum.Count += sh.Count
			}
			sum.Version += sh.Version
		}
	}
	return sum, nil
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
			members = append(members, it.member())
		}
	}
	next := ""
	if last, ok := out.LastEvaluatedKey[contract.ConnID].(*types.AttributeValueMemberS); ok {
		next = base64.RawURLEncoding.EncodeToString([]byte(last.Value))
	}
	return members, next, nil
}

// Members implements chat.Store: one Query of the room's partition of the
// room index (paged past 1 MB), expired records left out.
func (s *Store) Members(ctx context.Context, room string) ([]chat.Member, error) {
	items, err := s.liveInIndex(ctx, contract.RoomIndex, contract.ConnRoom, room)
	if err != nil {
		return nil, fmt.Errorf("room %s: %w", room, err)
	}
	members := make([]chat.Member, len(items))
	for i, it := range items {
		members[i] = it.member()
	}
	return members, nil
}

// member is a room index item as a member, with the end of its sign-in
// (a ban's mark, contract.ConnAuthEnded, long past).
func (it connItem) member() chat.Member {
	m := chat.Member{ConnID: it.ConnectionID, Name: it.Name, AccountID: it.AccountID, Username: it.Username}
	if it.AuthExp != 0 {
		m.AuthExpiresAt = time.Unix(it.AuthExp, 0)
	}
	return m
}

// liveInIndex reads one partition of a Connections index whole (paged past
// 1 MB), expired records left out.
func (s *Store) liveInIndex(ctx context.Context, index, attr, value string) ([]connItem, error) {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.names.Connections),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#k = :v"),
		ExpressionAttributeNames:  map[string]string{"#k": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": str(value)},
	})
	now := s.now().Unix()
	var live []connItem
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", index, err)
		}
		var items []connItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return nil, fmt.Errorf("decode %s: %w", index, err)
		}
		for _, it := range items {
			if it.ExpiresAt >= now {
				live = append(live, it)
			}
		}
	}
	return live, nil
}

// countChange is the update of a room's count that goes in the same
// transaction as the put or delete of a record it counts: of the record's
// shard of the count (rooms.go), and the shard's version with it (also
// with delta 0: a person's device put or deleted without changing the
// count, people.go). A put
// also keeps the shard as long as the record.
func (s *Store) countChange(room string, shard, delta int, expiresAt time.Time) types.TransactWriteItem {
	table, k := s.shardItem(room, shard)
	u := &types.Update{
		TableName:                aws.String(table),
		Key:                      k,
		UpdateExpression:         aws.String("ADD #count :d SET #v = if_not_exists(#v, :made) + :one"),
		ExpressionAttributeNames: map[string]string{"#count": attrCount, "#v": attrVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": num(int64(delta)), ":one": num(1),
			":made": num(s.now().UnixMilli())},
	}
	if !expiresAt.IsZero() {
		*u.UpdateExpression += ", #exp = :exp"
		u.ExpressionAttributeNames["#exp"] = contract.ConnExpiresAt
		u.ExpressionAttributeValues[":exp"] = num(expiresAt.Unix())
	}
	return types.TransactWriteItem{Update: u}
}
