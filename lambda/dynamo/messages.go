// The Messages table: the log of every message and activity, a room's
// public history and each reader's private history.

package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// Append implements chat.Store: one PutItem, and for a private message one
// more per reader (its copy in the reader's partition), all at once, before
// the message's own item: whoever finds the message's item (an edit, a
// deleted account's forget) finds every copy there too (docs/design.md,
// Deleting an account).
func (s *Store) Append(ctx context.Context, r chat.Record) error {
	it := newRecordItem(r)
	var copies []string
	if r.Kind == chat.KindPrivate {
		for _, reader := range r.Readers {
			copies = append(copies, readerKey(r.Room, reader))
		}
	}
	if err := s.putAll(ctx, it, copies); err != nil {
		return fmt.Errorf("record %s: %w", r.Kind, err)
	}
	if err := s.putAll(ctx, it, []string{it.Stream}); err != nil {
		return fmt.Errorf("record %s: %w", r.Kind, err)
	}
	return nil
}

// putAll puts it in each of streams, all at once (a copy without the
// readers: the message's item lists them, for an edit).
func (s *Store) putAll(ctx context.Context, it recordItem, streams []string) error {
	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, stream := range streams {
		wg.Go(func() {
			one := it
			one.Stream = stream
			if stream != it.Stream {
				one.Readers = nil
			}
			item, err := attributevalue.MarshalMap(one)
			if err == nil {
				_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.names.Messages), Item: item})
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// newRecordItem is r's item in its stream (a private message's copy for
// each reader is the same item in the reader's stream).
func newRecordItem(r chat.Record) recordItem {
	var until int64
	if !r.Until.IsZero() {
		until = r.Until.UnixMilli()
	}
	return recordItem{Act: r.Act, Until: until,
		Stream: streamKey(r.Kind, r.Room), ID: r.ID, Kind: r.Kind, TS: r.TS.UnixMilli(), Room: r.Room,
		From: r.From, To: r.To, OldName: r.OldName, Message: r.Message, ConnectionID: r.ConnID,
		ReplacedBy: r.ReplacedBy, Reason: r.Reason, ExpiresAt: r.ExpiresAt.Unix(),
		FromAccount: r.FromAccount, ToAccounts: r.ToAccounts, FromUsername: r.FromUsername, MessageID: r.MessageID,
		Readers: r.Readers, Previous: r.Previous,
		Mentions: mentionItems(r.Mentions),
	}
}

// mentionItem is a person a public message mentions (chat.Mention).
type mentionItem struct {
	Name    string `dynamodbav:"name"`
	Account string `dynamodbav:"account,omitempty"`
}

func mentionItems(ms []chat.Mention) []mentionItem {
	var out []mentionItem
	for _, m := range ms {
		out = append(out, mentionItem(m))
	}
	return out
}

// PrivateHistory implements chat.Store: one strongly consistent Query of
// the reader's partition, newest first, then reversed.
func (s *Store) PrivateHistory(ctx context.Context, room, reader, before string, limit int) ([]chat.Record, string, error) {
	return s.history(ctx, readerKey(room, reader), before, limit)
}

// History implements chat.Store: one strongly consistent Query, newest
// first, then reversed.
func (s *Store) History(ctx context.Context, room, before string, limit int) ([]chat.Record, string, error) {
	return s.history(ctx, streamKey(chat.KindPublic, room), before, limit)
}

// history reads the newest limit items of stream with ids below before (all
// when before is empty). next is the id of the oldest item read when the
// Query stopped at its limit (older ones may exist), else empty.
func (s *Store) history(ctx context.Context, stream, before string, limit int) ([]chat.Record, string, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.names.Messages),
		KeyConditionExpression:    aws.String("#stream = :stream"),
		ExpressionAttributeNames:  map[string]string{"#stream": contract.MessagesStream},
		ExpressionAttributeValues: map[string]types.AttributeValue{":stream": str(stream)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit)),
		// A page reloaded just after a message was sent reads it back: an
		// eventually consistent read could miss it, and the page, which was
		// reconnecting, never got its frame either. A page further back
		// (before set) reads consistently too: a message it missed would be
		// passed by the cursor for good (docs/design.md's consistency table).
		ConsistentRead: aws.Bool(true),
	}
	if before != "" {
		in.KeyConditionExpression = aws.String("#stream = :stream AND #id < :before")
		in.ExpressionAttributeNames["#id"] = contract.MessagesID
		in.ExpressionAttributeValues[":before"] = str(before)
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("query history %s: %w", stream, err)
	}
	var items []recordItem
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		return nil, "", fmt.Errorf("decode history %s: %w", stream, err)
	}
	now := s.now().Unix()
	recs := make([]chat.Record, 0, len(items))
	for _, it := range slices.Backward(items) {
		if it.ExpiresAt >= now {
			recs = append(recs, it.record())
		}
	}
	next := ""
	if last, ok := out.LastEvaluatedKey[contract.MessagesID].(*types.AttributeValueMemberS); ok {
		next = last.Value
	}
	return recs, next, nil
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
	// Act and Until (a moderated activity record): the act, and when the
	// mute or ban ends (ms; absent: until lifted).
	Act   string `dynamodbav:"act,omitempty"`
	Until int64  `dynamodbav:"until,omitempty"`
	// MessageID (a removed activity record): the message removed.
	MessageID string `dynamodbav:"messageId,omitempty"`
	// Mentions (a public message): the people it mentions, as resolved
	// when it was sent.
	Mentions []mentionItem `dynamodbav:"mentions,omitempty"`
	// A removed message's removal (moderate.go, RemoveMessage); its
	// message attribute is kept (the record keeps the message).
	RemovedAt        int64  `dynamodbav:"removedAt,omitempty"` // ms
	RemovedBy        string `dynamodbav:"removedBy,omitempty"`
	RemovedByName    string `dynamodbav:"removedByName,omitempty"`
	RemovedByAccount string `dynamodbav:"removedByAccount,omitempty"`
	RemovedReason    string `dynamodbav:"removedReason,omitempty"`
	RemovedToken     string `dynamodbav:"removedToken,omitempty"`
	// An edited message's last edit (edit.go, EditMessage): when (its
	// message attribute is the text now) and the edit's write token. Its
	// versions are in its edited activity records.
	EditedAt    int64  `dynamodbav:"editedAt,omitempty"` // ms
	EditedToken string `dynamodbav:"editedToken,omitempty"`
	// Readers (a private message's item in private#<room>, not the readers'
	// copies): the Reader keys of its copies, which an edit changes too.
	Readers []string `dynamodbav:"readers,omitempty"`
	// Previous (an edited activity record): the text before the edit.
	Previous string `dynamodbav:"previous,omitempty"`
}

func (it recordItem) record() chat.Record {
	r := chat.Record{Kind: it.Kind, ID: it.ID, TS: time.UnixMilli(it.TS), Room: it.Room,
		From: it.From, To: it.To, Message: it.Message, ConnID: it.ConnectionID,
		FromAccount: it.FromAccount, ToAccounts: it.ToAccounts, FromUsername: it.FromUsername,
		MessageID: it.MessageID, Reason: it.Reason, Act: it.Act}
	for _, m := range it.Mentions {
		r.Mentions = append(r.Mentions, chat.Mention(m))
	}
	if it.Until != 0 {
		r.Until = time.UnixMilli(it.Until)
	}
	if it.EditedAt != 0 {
		r.Edited, r.EditToken = time.UnixMilli(it.EditedAt), it.EditedToken
	}
	r.Readers, r.Previous = it.Readers, it.Previous
	if it.RemovedAt != 0 {
		r.Removed = &chat.Removal{By: it.RemovedBy, ByName: it.RemovedByName, ByAccount: it.RemovedByAccount,
			Reason: it.RemovedReason, At: time.UnixMilli(it.RemovedAt)}
	}
	return r
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
