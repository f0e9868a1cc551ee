package ddbproxy

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
)

// page queries one page of a room's partition of the index through the
// proxy, at most limit items from start (nil: the first page), and returns
// "id=name" per item and the page's LastEvaluatedKey.
func (fx *fixture) page(ctx context.Context, t *testing.T, room string, limit int32,
	start map[string]types.AttributeValue) ([]string, map[string]types.AttributeValue) {
	t.Helper()
	out, err := fx.via.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(fx.conns),
		IndexName:                 aws.String(contract.RoomIndex),
		KeyConditionExpression:    aws.String("#room = :room"),
		ExpressionAttributeNames:  map[string]string{"#room": contract.ConnRoom},
		ExpressionAttributeValues: map[string]types.AttributeValue{":room": s(room)},
		Limit:                     aws.Int32(limit),
		ExclusiveStartKey:         start,
	})
	if err != nil {
		t.Fatalf("query %s: %v", room, err)
	}
	if int(out.Count) != len(out.Items) || len(out.Items) > int(limit) {
		t.Errorf("a page of Limit %d: Count %d, %d items", limit, out.Count, len(out.Items))
	}
	var got []string
	for _, it := range out.Items {
		got = append(got, it[contract.ConnID].(*types.AttributeValueMemberS).Value+"="+
			it[contract.RoomIndexName].(*types.AttributeValueMemberS).Value)
	}
	return got, out.LastEvaluatedKey
}

// rename renames connection id through the proxy: an update whose old
// image the lagging index still shows, in the same place (its key is
// unchanged).
func (fx *fixture) rename(ctx context.Context, t *testing.T, id, name string) {
	t.Helper()
	if _, err := fx.via.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(fx.conns),
		Key:                       map[string]types.AttributeValue{contract.ConnPK: s(contract.ConnItemPrefix + id)},
		UpdateExpression:          aws.String("SET #name = :name"),
		ExpressionAttributeNames:  map[string]string{"#name": contract.RoomIndexName},
		ExpressionAttributeValues: map[string]types.AttributeValue{":name": s(name)},
	}); err != nil {
		t.Fatal(err)
	}
}

// An item the index lags on stays where its sort key puts it, as on AWS,
// however the lag moves while the pages are read: it was moved to the last
// page, so an item lagged while its own page was read and caught up by
// the last one was on no page (a room's member list missed Dan, whose own
// hello had just updated his record), and one that was current on its own
// page and lagged by the last was on both.
func TestAPagedIndexQueryListsAnItemOnceWhenItsLagEndsOrBeginsBetweenPages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// lagged updates a before page 1 (true) or between the pages.
		beforePage1 bool
		want        []string
	}{
		{"a lagged on page 1 and caught up by page 2", true, []string{"a=Alice", "b=B", "d=D"}},
		{"a current on page 1 and lagged by page 2", false, []string{"a=Alice", "b=B", "d=D"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testkit.Context(t, time.Minute)
			fx := newFixture(t, Faults{})
			fx.put(ctx, t, fx.direct, conn("a", "lobby", "Alice"))
			fx.put(ctx, t, fx.direct, conn("b", "lobby", "B"))
			fx.put(ctx, t, fx.direct, conn("d", "lobby", "D"))
			fx.proxy.Inject(Faults{IndexLag: time.Hour})
			if tc.beforePage1 {
				fx.rename(ctx, t, "a", "Al")
			}
			got, next := fx.page(ctx, t, "lobby", 2, nil)
			if next == nil {
				t.Fatalf("page 1 %v ended the partition", got)
			}
			if tc.beforePage1 {
				fx.proxy.Restore() // the index catches up at once
			} else {
				fx.rename(ctx, t, "a", "Al")
			}
			rest, _ := fx.page(ctx, t, "lobby", 2, next)
			expect(t, "page 1 and page 2", append(got, rest...), tc.want...)
		})
	}
}

// Items the index still lists (deleted, not yet gone from it) are on the
// page their sort key puts them, no page holds more than its Limit, and
// the pages together list each once, in order.
func TestAPagedIndexQueryKeepsItsLimitAndItsOrderWithLaggedItems(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, Faults{IndexLag: time.Hour})
	fx.lobbyOfFiveThreeLeft(ctx, t)
	var all []string
	var start map[string]types.AttributeValue
	for pages := 1; ; pages++ {
		got, next := fx.page(ctx, t, "lobby", 2, start)
		all = append(all, got...)
		if next == nil {
			break
		}
		if pages > 5 {
			t.Fatalf("more than 5 pages of 2 for 5 items: %v", all)
		}
		start = next
	}
	expect(t, "the pages", all, "a=A", "b=B", "c=C", "d=D", "e=E")
}
