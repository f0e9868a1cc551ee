// Package dynamo is the chat's storage on DynamoDB: the chat.Store adapter
// and the table definitions for the local stack and tests. Every route's
// reads are GetItem or a Query of one partition; nothing Scans.
package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
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

// API is the part of the DynamoDB client the store calls. The function's
// IAM policy allows exactly these actions.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	// TransactWriteItems is authorized per action, as PutItem, UpdateItem
	// and DeleteItem of each item: it is no IAM action of its own.
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Names are the deployed tables' names.
type Names struct {
	Connections string
	Messages    string
}

func (n Names) of(t contract.Table) string {
	if t.ID == contract.Connections.ID {
		return n.Connections
	}
	return n.Messages
}

// orphanGrace is how old a name claim must be before it may be taken from a
// connection that has no record: younger claims may belong to a $connect
// that has claimed the name but not yet written its record.
const orphanGrace = 30 * time.Second

// Store implements chat.Store.
type Store struct {
	db    API
	names Names
	now   func() time.Time
}

var _ chat.Store = (*Store)(nil)

// New returns a Store on the given tables. now may be nil (time.Now).
func New(db API, names Names, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, names: names, now: now}
}

// Items. The tags of key and index attributes must match contract; a test
// pins them. Attributes named in expressions have constants, checked by the
// same test.
const (
	attrResume      = "resume"
	attrConnectedAt = "connectedAt"
	attrWarnCode    = "warnCode"
	attrWarnMessage = "warnMessage"
	attrClaimedAt   = "claimedAt"
	attrWrite       = "w"
	attrPrevious    = "prev"
	attrGone        = "gone"
	attrEnd         = "end"
	attrEndBy       = "endBy"
	attrGoneAt      = "goneAt" // connItem.GoneAt
	attrHolders     = "holders"
	attrReservedAt  = "reservedAt" // ownerItem.ReservedAt
)

// Every conditional write stamps the item with a token of its own (attrWrite,
// or attrGone for a removal), and its condition also accepts an item that
// already carries that token. DynamoDB may apply a write and still answer
// with an error, and the SDK then sends the same request again: the retry
// passes its condition and comes to the outcome the first attempt had,
// instead of failing as if another request had won. docs/design.md lists
// the rule of each write.
func newWriteToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

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

type claimItem struct {
	PK           string `dynamodbav:"pk"`
	ConnectionID string `dynamodbav:"connectionId"`
	Name         string `dynamodbav:"name"`
	Resume       string `dynamodbav:"resume"`
	ClaimedAt    int64  `dynamodbav:"claimedAt"`      // ms
	ExpiresAt    int64  `dynamodbav:"expiresAt"`      // s, TTL
	Write        string `dynamodbav:"w,omitempty"`    // token of the write that made this claim
	Previous     string `dynamodbav:"prev,omitempty"` // the holder before that write
	// Holders are every connection that has held the claim since the last
	// holder whose $connect finished (ForgetReplaced), that one included.
	Holders []string `dynamodbav:"holders,stringset,omitempty"`
}

type recordItem struct {
	Stream       string    `dynamodbav:"stream"`
	ID           string    `dynamodbav:"id"`
	Kind         chat.Kind `dynamodbav:"kind"`
	TS           int64     `dynamodbav:"ts"` // ms
	Room         string    `dynamodbav:"room"`
	From         string    `dynamodbav:"from"`
	To           []string  `dynamodbav:"to,omitempty"`
	OldName      string    `dynamodbav:"oldName,omitempty"`
	Message      string    `dynamodbav:"message,omitempty"`
	ConnectionID string    `dynamodbav:"connectionId"`
	ReplacedBy   string    `dynamodbav:"replacedBy,omitempty"`
	Reason       string    `dynamodbav:"reason,omitempty"`
	ExpiresAt    int64     `dynamodbav:"expiresAt"` // s, TTL
	// The sender's (subject's) and the recipients' accounts, with sign-in.
	FromAccount  string   `dynamodbav:"fromAccount,omitempty"`
	ToAccounts   []string `dynamodbav:"toAccounts,omitempty"`
	FromUsername string   `dynamodbav:"fromUsername,omitempty"`
}

func (it recordItem) record() chat.Record {
	return chat.Record{Kind: it.Kind, ID: it.ID, TS: time.UnixMilli(it.TS), Room: it.Room,
		From: it.From, To: it.To, Message: it.Message, ConnID: it.ConnectionID,
		FromAccount: it.FromAccount, ToAccounts: it.ToAccounts, FromUsername: it.FromUsername}
}

func connKey(id string) string { return contract.ConnItemPrefix + id }

func claimKey(room, name string) string {
	return contract.NameItemPrefix + room + "#" + chat.Fold(name)
}

// readerKey is the partition of one reader's copies of a room's private
// messages (chat.Reader): reading it back reads nobody else's.
func readerKey(room, reader string) string {
	return contract.ReaderStreamPrefix + room + "#" + reader
}

// streamKey puts public messages, private messages and activity of a room in
// partitions of their own, so a room's history is one Query that reads
// nothing else.
func streamKey(kind chat.Kind, room string) string {
	if kind.IsMessage() {
		return string(kind) + "#" + room
	}
	return "activity#" + room
}

func key(attr, value string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attr: &types.AttributeValueMemberS{Value: value}}
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: fmt.Sprint(v)}
}

func conditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

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

// Members implements chat.Store: one Query of the room's partition of the
// room index (paged past 1 MB), expired records left out.
func (s *Store) Members(ctx context.Context, room string) ([]chat.Member, error) {
	items, err := s.liveInIndex(ctx, contract.RoomIndex, contract.ConnRoom, room)
	if err != nil {
		return nil, fmt.Errorf("room %s: %w", room, err)
	}
	members := make([]chat.Member, len(items))
	for i, it := range items {
		members[i] = chat.Member{ConnID: it.ConnectionID, Name: it.Name}
	}
	return members, nil
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

// Owner implements chat.Store: one GetItem of the claim.
func (s *Store) Owner(ctx context.Context, room, name string) (chat.Member, bool, error) {
	var it claimItem
	found, err := s.get(ctx, s.names.Connections, key(contract.ConnPK, claimKey(room, name)), &it)
	if err != nil {
		return chat.Member{}, false, fmt.Errorf("read name claim: %w", err)
	}
	if !found || it.ExpiresAt < s.now().Unix() {
		return chat.Member{}, false, nil
	}
	return chat.Member{ConnID: it.ConnectionID, Name: it.Name}, true, nil
}

// get reads one item with a strongly consistent read into v.
func (s *Store) get(ctx context.Context, table string, k map[string]types.AttributeValue, v any) (bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, err
	}
	if len(out.Item) == 0 {
		return false, nil
	}
	return true, attributevalue.UnmarshalMap(out.Item, v)
}
