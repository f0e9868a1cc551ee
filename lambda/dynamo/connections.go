// The connections' records (chat's connectionStore): one item per live
// connection, c#<connection id>, put by its $connect in one transaction with
// its room's count and its joined, renamed in place, and removed in two steps
// (remove.go).

package dynamo

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

type connItem struct {
	PK           string `dynamodbav:"pk"`
	ConnectionID string `dynamodbav:"connectionId"`
	Room         string `dynamodbav:"room"`
	Name         string `dynamodbav:"name"`
	ConnectedAt  int64  `dynamodbav:"connectedAt"` // ms
	ExpiresAt    int64  `dynamodbav:"expiresAt"`   // s, TTL
	Resume       string `dynamodbav:"resume"`
	WarnCode     string `dynamodbav:"warnCode,omitempty"`
	WarnMessage  string `dynamodbav:"warnMessage,omitempty"`
	Write        string `dynamodbav:"w,omitempty"`    // token of the last rename
	Gone         string `dynamodbav:"gone,omitempty"` // token of the removal in progress
	// How the removal in progress said the record ends (chat.End).
	End    chat.Kind `dynamodbav:"end,omitempty"`
	EndBy  string    `dynamodbav:"endBy,omitempty"`
	GoneAt int64     `dynamodbav:"goneAt,omitempty"` // ms, when Gone was set
	// The signed-in account (the $connect authorizer's context); absent
	// with sign-in off.
	AccountID string `dynamodbav:"accountId,omitempty"`
	Username  string `dynamodbav:"username,omitempty"`
	// NameVersion is the version of the account's name the record carries.
	NameVersion int64 `dynamodbav:"nv,omitempty"`
	// AuthExp is when the connection's sign-in ends (s; chat.Connection.AuthExpiresAt).
	AuthExp int64 `dynamodbav:"authExp,omitempty"`
	// AuthIat is the iat of its latest reauth's token (s; chat.Connection.AuthIssuedAt).
	AuthIat int64 `dynamodbav:"authIat,omitempty"`
	// The shard of its room's count that counts it (rooms.go); 0 (absent):
	// the room item, for a record from before the shards.
	Shard int `dynamodbav:"shard,omitempty"`
	// Person: counted by its person (people.go), once per account in the
	// room; false for a record without sign-in or from before.
	Person bool `dynamodbav:"person,omitempty"`
	// A rename without sign-in whose room may not have been told yet: the
	// old name and the rename's stamp (ms), until RenameTold.
	PendingName string `dynamodbav:"pn,omitempty"`
	PendingAt   int64  `dynamodbav:"pt,omitempty"`
}

func connKey(id string) string { return contract.ConnItemPrefix + id }

// PutConnection implements chat.Store: one transaction that puts the
// record, which must be new, adds it to a shard of its room's count, which
// the record names (docs/design.md, A busy room), and puts the activity
// records (its joined): each a new item of its own (a ULID), so a retry
// with the same ClientRequestToken, or an attempt made again after a
// conflict (which applied nothing), writes the same item. An attempt whose
// shard was in another transaction tries the next shard.
func (s *Store) PutConnection(ctx context.Context, c chat.Connection, activity ...chat.Record) error {
	it := connItem{
		PK: connKey(c.ID), ConnectionID: c.ID, Room: c.Room, Name: c.Name,
		ConnectedAt: c.ConnectedAt.UnixMilli(), ExpiresAt: c.ExpiresAt.Unix(), Resume: c.ResumeToken,
		AccountID: c.AccountID, Username: c.Username, NameVersion: c.NameVersion,
	}
	if !c.AuthExpiresAt.IsZero() {
		it.AuthExp = c.AuthExpiresAt.Unix()
	}
	if c.Warning != nil {
		it.WarnCode, it.WarnMessage = c.Warning.Code, c.Warning.Message
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("record connection: %w", err)
	}
	var logged []types.TransactWriteItem
	for _, r := range activity {
		rec, err := attributevalue.MarshalMap(newRecordItem(r))
		if err != nil {
			return fmt.Errorf("record connection: %w", err)
		}
		logged = append(logged, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.names.Messages), Item: rec}})
	}
	if c.AccountID != "" {
		// Counted by its person (people.go), on the person's shard.
		item[attrShard], item[attrPerson] = num(int64(personShard(c.AccountID))), &types.AttributeValueMemberBOOL{Value: true}
		put := types.TransactWriteItem{Put: &types.Put{
			TableName:                aws.String(s.names.Connections),
			Item:                     item,
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": contract.ConnPK},
		}}
		if err := s.putPerson(ctx, c, put, logged); err != nil {
			return fmt.Errorf("record connection: %w", err)
		}
		return nil
	}
	err = s.transactEach(ctx, func(attempt int) []types.TransactWriteItem {
		shard := shardOf(c.ID, attempt)
		counted := maps.Clone(item)
		counted[attrShard] = num(int64(shard))
		return append([]types.TransactWriteItem{{Put: &types.Put{
			TableName:                aws.String(s.names.Connections),
			Item:                     counted,
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": contract.ConnPK},
		}}, s.countChange(c.Room, shard, 1, c.ExpiresAt)}, logged...)
	})
	if err != nil {
		return fmt.Errorf("record connection: %w", err)
	}
	return nil
}

// GetConnection implements chat.Store.
func (s *Store) GetConnection(ctx context.Context, id string) (chat.Connection, error) {
	var it connItem
	found, err := s.get(ctx, s.names.Connections, key(contract.ConnPK, connKey(id)), &it)
	if err != nil {
		return chat.Connection{}, fmt.Errorf("read connection: %w", err)
	}
	if !found || it.ExpiresAt < s.now().Unix() || it.Gone != "" {
		return chat.Connection{}, chat.ErrNotFound
	}
	return it.connection(), nil
}

func (it connItem) connection() chat.Connection {
	c := chat.Connection{
		ID: it.ConnectionID, Room: it.Room, Name: it.Name, ResumeToken: it.Resume,
		ConnectedAt: time.UnixMilli(it.ConnectedAt), ExpiresAt: time.Unix(it.ExpiresAt, 0),
		AccountID: it.AccountID, Username: it.Username, NameVersion: it.NameVersion, Mark: it.Gone, Shard: it.Shard,
		Person:      it.Person,
		PendingName: it.PendingName,
		End:         chat.End{Kind: it.End, By: it.EndBy},
	}
	if it.AuthExp != 0 {
		c.AuthExpiresAt = time.Unix(it.AuthExp, 0)
	}
	if it.AuthIat != 0 {
		c.AuthIssuedAt = time.Unix(it.AuthIat, 0)
	}
	if it.PendingAt != 0 {
		c.PendingAt = time.UnixMilli(it.PendingAt)
	}
	if it.WarnCode != "" {
		c.Warning = &chat.Problem{Code: it.WarnCode, Message: it.WarnMessage}
	}
	if it.GoneAt != 0 {
		c.MarkedAt = time.UnixMilli(it.GoneAt)
	}
	return c
}

// Rename implements chat.Store: one UpdateItem, conditional on the old
// name so that of two concurrent renames of one connection only one lands,
// plus a GetItem when it fails. Its own retry passes by its token. With a
// stamp (at), the same write keeps the old name and the stamp on the record
// (pn, pt) until RenameTold: a rename whose room was not told yet.
func (s *Store) Rename(ctx context.Context, id, oldName, name string, at time.Time) error {
	update := "SET #name = :name, #w = :w"
	names := map[string]string{"#name": contract.RoomIndexName, "#warnCode": attrWarnCode,
		"#warnMessage": attrWarnMessage, "#w": attrWrite, "#gone": attrGone}
	values := map[string]types.AttributeValue{":name": str(name), ":old": str(oldName), ":w": str(newWriteToken())}
	if !at.IsZero() {
		update += ", #pn = :old, #pt = :pt"
		names["#pn"], names["#pt"] = contract.ConnPendingName, contract.ConnPendingAt
		values[":pt"] = num(at.UnixMilli())
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.names.Connections),
		Key:                       key(contract.ConnPK, connKey(id)),
		UpdateExpression:          aws.String(update + " REMOVE #warnCode, #warnMessage"),
		ConditionExpression:       aws.String("attribute_not_exists(#gone) AND (#name = :old OR #w = :w)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if conditionFailed(err) {
		if _, err := s.GetConnection(ctx, id); err != nil {
			return err
		}
		return chat.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	return nil
}

// RenameTold implements chat.Store: one UpdateItem removing the record's
// pending rename, conditional on its stamp (a later rename's stays, and a
// record already gone is not made again).
func (s *Store) RenameTold(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.names.Connections),
		Key:                       key(contract.ConnPK, connKey(id)),
		UpdateExpression:          aws.String("REMOVE #pn, #pt"),
		ConditionExpression:       aws.String("#pt = :pt"),
		ExpressionAttributeNames:  map[string]string{"#pn": contract.ConnPendingName, "#pt": contract.ConnPendingAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pt": num(at.UnixMilli())},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("forget the told rename: %w", err)
	}
	return nil
}
