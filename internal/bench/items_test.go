package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/lambda/mgmt"
	"github.com/groupchat/groupchat/local"
)

func TestMain(m *testing.M) { chattest.Main(m) }

// counting is the DynamoDB client with a count of the items every read
// returned or examined: GetItem's item, Query's scanned items.
type counting struct {
	dynamo.API
	items, calls atomic.Int64
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := c.API.GetItem(ctx, in, opts...)
	c.calls.Add(1)
	if err == nil && out.Item != nil {
		c.items.Add(1)
	}
	return out, err
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.API.Query(ctx, in, opts...)
	c.calls.Add(1)
	if err == nil {
		c.items.Add(int64(out.ScannedCount))
	}
	return out, err
}

// itemsRead returns the items one sendPublic in a room of roomSize reads
// while others connections sit in other rooms, and the reads it made.
func itemsRead(tb testing.TB, roomSize, others int) (items, calls float64) {
	tb.Helper()
	h := chattest.New(tb)
	ids := h.Populate("measured", roomSize)
	populate(tb, h, others)
	db := &counting{API: h.DB}
	api := apigatewaymanagementapi.NewFromConfig(local.AWSConfig(), func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(h.GW.URL)
	})
	h.Service = chat.New(dynamo.New(db, h.Tables, h.Now), mgmt.New(api), chat.Options{Metrics: h.Metrics, Now: h.Now})
	h.GW.Discard = true
	h.Send(ids[0], `{"action":"sendPublic","message":"how much does this read?"}`)
	return float64(db.items.Load()), float64(db.calls.Load())
}

// populate puts n connections in rooms of 100 other than the measured one,
// written in parallel (chattest.Populate writes one at a time).
func populate(tb testing.TB, h *chattest.Harness, n int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	now := h.Now().Add(-time.Minute)
	var wg sync.WaitGroup
	var failed atomic.Value
	sem := make(chan struct{}, 16)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := chat.Connection{ID: chattest.NewConnID(), Room: fmt.Sprintf("other-%d", i/100), Name: fmt.Sprintf("m-%d", i),
				ConnectedAt: now, ExpiresAt: now.Add(2 * time.Hour), ResumeToken: "t"}
			if _, err := h.Store.ClaimName(ctx, chat.Claim{Room: c.Room, Name: c.Name, ConnID: c.ID, ExpiresAt: c.ExpiresAt}); err != nil {
				failed.Store(err)
			} else if err := h.Store.PutConnection(ctx, c); err != nil {
				failed.Store(err)
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		tb.Fatalf("populate: %v", err)
	}
}

// TestBroadcastReadsTheRoomNotTheTable: a public message in a room of 10
// reads as many items with 1,000 connections in other rooms as with none:
// its reads are proportional to the room, not the table.
func TestBroadcastReadsTheRoomNotTheTable(t *testing.T) {
	t.Parallel()
	alone, _ := itemsRead(t, 10, 0)
	crowded, calls := itemsRead(t, 10, 1000)
	if crowded != alone {
		t.Fatalf("a broadcast to 10 members read %v items beside 1,000 other connections and %v alone", crowded, alone)
	}
	// The sender's record (1) and the room's 10 index entries.
	if crowded > 11 {
		t.Fatalf("a broadcast to 10 members read %v items in %v reads; want at most 11", crowded, calls)
	}
}

// BenchmarkItemsReadPerBroadcast reports the DynamoDB items one sendPublic
// reads in a room of 10 while 10,000 connections sit in other rooms.
func BenchmarkItemsReadPerBroadcast(b *testing.B) {
	for _, others := range []int{0, 10000} {
		b.Run(fmt.Sprintf("room=10/others=%d", others), func(b *testing.B) {
			var items, calls float64
			for b.Loop() {
				items, calls = itemsRead(b, 10, others)
			}
			b.ReportMetric(items, "items-read/op")
			b.ReportMetric(calls, "reads/op")
		})
	}
}
