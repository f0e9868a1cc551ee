// Package dynamo is the chat's storage on DynamoDB: the chat.Store adapter
// and the table definitions for the local stack and tests. Every route's
// reads are GetItem or a Query of one partition; nothing Scans.
//
// A file for each role chat declares: claims.go the names in a room
// (nameStore), connections.go and remove.go the connections' records
// (connectionStore, removalStore), rooms.go and people.go presence and
// counts (presenceStore), accounts.go the accounts and their names
// (accountStore), reserve.go usernames reserved as names (usernameStore),
// devices.go an account's devices (deviceStore), ratelimit.go the budgets
// and connect limits (rateStore), messages.go the message record
// (recordStore). This file has the client, the attributes several items
// share and the write helpers every role uses.
package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
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

// transact runs the actions as one transaction. Each attempt has a
// ClientRequestToken of its own, which the SDK sends again with each of
// its retries: a retry of a transaction DynamoDB applied but answered with
// an error is answered with success and not applied again. An attempt
// cancelled because another transaction held one of its items (every join
// and leave of a room touches one of its count's shards) applied nothing:
// it is made again, with a new token.
func (s *Store) transact(ctx context.Context, actions ...types.TransactWriteItem) error {
	return s.transactEach(ctx, func(int) []types.TransactWriteItem { return actions })
}

// transactEach is transact with each attempt's actions from actions(n),
// n counting from 0.
func (s *Store) transactEach(ctx context.Context, actions func(attempt int) []types.TransactWriteItem) error {
	attempt := 0
	return retryConflicts(ctx, func() error {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			ClientRequestToken: aws.String(newWriteToken()),
			TransactItems:      actions(attempt),
		})
		attempt++
		return err
	})
}

// transactionConditionFailed reports a transaction cancelled because a
// condition failed.
func transactionConditionFailed(err error) bool {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return false
	}
	return slices.ContainsFunc(tc.CancellationReasons, func(r types.CancellationReason) bool {
		return aws.ToString(r.Code) == "ConditionalCheckFailed"
	})
}

// conflictAttempts bounds the attempts of a write to the room item that
// found it in another transaction (each join and leave in the room runs
// one): DynamoDB refuses such a write without applying it, and the SDK does
// not retry it.
const conflictAttempts = 8

// retryConflicts runs write until it does not conflict with a
// transaction, at most conflictAttempts times, after a short random pause.
// It makes no attempt inside the invocation's deadline margin
// (chat.RetryAllowed): a write that still conflicts then fails, and its
// caller leaves the work for later, instead of the invocation running to
// its deadline (up to 128 removals of one broadcast retry at once).
func retryConflicts(ctx context.Context, write func() error) error {
	var err error
	for attempt := range conflictAttempts {
		if err = write(); !conflicted(err) || attempt == conflictAttempts-1 {
			return err
		}
		pause := time.Duration(1+mrand.IntN(10<<attempt)) * time.Millisecond
		if !chat.RetryAllowed(ctx, pause) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		if !chat.RetryAllowed(ctx, 0) {
			return err // the pause ended late: the machine is busy
		}
	}
	return err
}

// conflicted reports a write refused (and not applied) because an item it
// touches is in another transaction.
func conflicted(err error) bool {
	var tc *types.TransactionConflictException
	if errors.As(err, &tc) {
		return true
	}
	var cancelled *types.TransactionCanceledException
	return errors.As(err, &cancelled) && slices.ContainsFunc(cancelled.CancellationReasons, func(r types.CancellationReason) bool {
		return aws.ToString(r.Code) == "TransactionConflict"
	})
}
