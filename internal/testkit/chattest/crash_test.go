package chattest

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/local"
)

func TestMain(m *testing.M) { Main(m) }

// A killed invocation's requests after the kill are dropped, and one made
// on a context detached from the invocation's is refused and reported.
func TestCutKillsAfterTheKthRequestAndReportsDetachedContexts(t *testing.T) {
	t.Parallel()
	h := New(t)
	db := dynamodb.NewFromConfig(guarded(local.AWSConfig()), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(h.DynamoDB.Endpoint())
	})
	get := func(ctx context.Context, id string) error {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(h.Tables.Connections),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "c#" + id}}})
		return err
	}
	var errs []error
	c := h.Cut(1, func(ctx context.Context) {
		errs = append(errs, get(ctx, "first"), get(ctx, "second"), get(ctx, "third"),
			get(context.WithoutCancel(ctx), "detached"))
	})
	if errs[0] != nil || errs[1] == nil || errs[2] == nil || errs[3] == nil {
		t.Errorf("errors %v; want the first request through and every later one refused", errs)
	}
	if r := c.Requests(); len(r) != 1 || r[0].Op != "GetItem" || r[0].Table != "Connections" || r[0].Key != "pk=c#first" {
		t.Errorf("requests %v; want the first GetItem only", r)
	}
	if killed, next := c.Killed(); !killed || !strings.Contains(next, "pk=c#second") {
		t.Errorf("killed %v at %q; want killed at the second GetItem", killed, next)
	}
	if late := c.Late(); len(late) != 1 || !strings.Contains(late[0], "GetItem on a live context after it was killed") {
		t.Errorf("late = %q; want the detached GetItem", late)
	}
	if n := h.Cut(-1, func(ctx context.Context) { _ = get(ctx, "a"); _ = get(ctx, "b") }).Requests(); len(n) != 2 {
		t.Errorf("an invocation never killed made %d requests; want 2 counted", len(n))
	}
}
