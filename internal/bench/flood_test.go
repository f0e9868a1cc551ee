package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local"
)

// BenchmarkRequestsPerSendPublicLimited: the DynamoDB requests of one
// sendPublic with the rate limit (issue 12), per operation, for a frame
// accepted and a frame refused, without sign-in (the limit on the
// connection's record) and with it (on the account's item).
func BenchmarkRequestsPerSendPublicLimited(b *testing.B) {
	const msg = `{"action":"sendPublic","message":"how many requests?"}`
	for _, signedIn := range []bool{false, true} {
		for _, refused := range []bool{false, true} {
			b.Run(fmt.Sprintf("signedIn=%v/refused=%v", signedIn, refused), func(b *testing.B) {
				for b.Loop() {
					opts := []chattest.Option{}
					if signedIn {
						opts = append(opts, chattest.SignedIn)
					}
					h := chattest.New(b, opts...)
					h.GW.Discard = true
					h.Populate("lobby", 9)
					var id string
					if signedIn {
						id = h.JoinAs("sender", "")
					} else {
						id = h.Join("sender", "")
					}
					if refused {
						for range chat.DefaultRateLimit.Limit {
							h.Send(id, msg)
						}
					}
					reportRequests(b, h, 10, func() { h.Send(id, msg) })
				}
			})
		}
	}
}

// BenchmarkFlood: through the local stack with real WebSocket clients, one
// connection sends 1,000 sendPublic frames in one second (one a
// millisecond) while 20 clients in 10 other rooms ping every 20 ms. It
// reports how many frames were accepted (their echo came back), refused
// rate_limited with a retryAfterMs, and stored in the room's log; the
// DynamoDB requests per frame during the flood; and the other rooms' ping
// round trips before and during the flood (a pong, or past a pinger's own
// budget its rate_limited answer), with the default limit (20 in
// 10 s) and without one (1,000 a millisecond: every frame accepted, as
// before issue 12). Run it with -benchtime 1x.
func BenchmarkFlood(b *testing.B) {
	for _, limited := range []bool{true, false} {
		b.Run(fmt.Sprintf("limited=%v", limited), func(b *testing.B) {
			o := local.Options{}
			if !limited {
				chattest.Unlimited(&o.Chat)
			}
			for b.Loop() {
				flood(b, o)
			}
		})
	}
}

func flood(b *testing.B, o local.Options) {
	{
		s := startStack(b, o)
		ctx := testkit.Context(b, 5*time.Minute)
		dial := func(room, name string) *websocket.Conn {
			ws, _, err := websocket.Dial(ctx, s.URL+"?"+url.Values{"name": {name}, "room": {room}}.Encode(), nil)
			if err != nil {
				b.Fatalf("connect %s: %v", name, err)
			}
			ws.SetReadLimit(1 << 20)
			b.Cleanup(func() { _ = ws.CloseNow() })
			return ws
		}

		// The other rooms: each pinger records its round trips in the
		// current phase (0 quiet, 1 flood; 2 after, not kept).
		var phase atomic.Int32
		var mu sync.Mutex
		rtts := [2][]float64{}
		pingCtx, stopPings := context.WithCancel(ctx)
		var pingers sync.WaitGroup
		for i := range 20 {
			ws := dial(fmt.Sprintf("other-%d", i%10), fmt.Sprintf("pinger-%d", i))
			pingers.Go(func() {
				for pingCtx.Err() == nil {
					p := phase.Load()
					start := time.Now()
					if err := ws.Write(pingCtx, websocket.MessageText, []byte(`{"action":"ping"}`)); err != nil {
						return
					}
					for {
						_, data, err := ws.Read(pingCtx)
						if err != nil {
							return
						}
						// A ping costs a unit of the pinger's budget (issue 22):
						// past 20 in 10 s it is answered rate_limited, from
						// the instance's memory. Either is the round trip.
						var f struct{ Type, Code string }
						if json.Unmarshal(data, &f) == nil && (f.Type == "pong" || f.Type == "error" && f.Code == "rate_limited") {
							break
						}
					}
					if p < 2 && phase.Load() == p {
						mu.Lock()
						rtts[p] = append(rtts[p], float64(time.Since(start).Microseconds())/1000)
						mu.Unlock()
					}
					time.Sleep(20 * time.Millisecond)
				}
			})
		}

		flooder, listener := dial("flood", "flooder"), dial("flood", "listener")
		var accepted, limited, other, heard atomic.Int64
		var badRetry atomic.Int64
		read := func(ws *websocket.Conn, own bool) {
			for {
				_, data, err := ws.Read(ctx)
				if err != nil {
					return
				}
				var f struct {
					Type, Code, Ref string
					RetryAfterMs    int64
				}
				_ = json.Unmarshal(data, &f)
				switch {
				case !own && f.Type == "public":
					heard.Add(1)
				case own && f.Type == "public" && f.Ref != "":
					accepted.Add(1)
				case own && f.Type == "error" && f.Code == "rate_limited":
					limited.Add(1)
					if f.RetryAfterMs <= 0 {
						badRetry.Add(1)
					}
				case own && f.Type == "error":
					other.Add(1)
				}
			}
		}
		go read(flooder, true)
		go read(listener, false)

		time.Sleep(2 * time.Second) // the quiet phase
		const frames = 1000
		send := func(ws *websocket.Conn) time.Duration {
			start := time.Now()
			for i := range frames {
				time.Sleep(time.Until(start.Add(time.Duration(i) * time.Millisecond)))
				frame := fmt.Sprintf(`{"action":"sendPublic","message":"flood %d","ref":"f%d"}`, i, i)
				if err := ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
					b.Fatalf("send %d: %v", i, err)
				}
			}
			return time.Since(start)
		}
		before := s.DynamoDBProxy.Counts()
		phase.Store(1)
		start := time.Now()
		sent := send(flooder)
		for accepted.Load()+limited.Load()+other.Load() < frames && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		answered := time.Since(start)
		phase.Store(2)
		after := s.DynamoDBProxy.Counts()
		stopPings()
		pingers.Wait()

		// The requests of a flood alone (the pings read the room's count): a
		// second flooder, with its own limit, once the pingers have stopped.
		flooder2 := dial("flood2", "flooder2")
		var answered2 atomic.Int64
		go func() {
			for {
				_, data, err := flooder2.Read(ctx)
				if err != nil {
					return
				}
				var f struct{ Type, Ref string }
				if json.Unmarshal(data, &f) == nil && (f.Type == "error" || f.Type == "public" && f.Ref != "") {
					answered2.Add(1)
				}
			}
		}()
		time.Sleep(500 * time.Millisecond)
		before2 := s.DynamoDBProxy.Counts()
		send(flooder2)
		for answered2.Load() < frames && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		after2 := s.DynamoDBProxy.Counts()

		out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.Tables.Messages),
			KeyConditionExpression:    aws.String("#s = :s"),
			ExpressionAttributeNames:  map[string]string{"#s": contract.MessagesStream},
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "public#flood"}},
			Select:                    types.SelectCount,
			ConsistentRead:            aws.Bool(true),
		})
		if err != nil {
			b.Fatal(err)
		}
		requests := 0.0
		alone := map[string]int64{}
		for op, n := range after2 {
			if d := n - before2[op]; d > 0 {
				alone[op] = d
				requests += float64(d)
			}
		}
		b.Logf("sent %d frames in %v, all answered after %v; accepted %d, rate_limited %d (%d without retryAfterMs), other errors %d; "+
			"the room heard %d; stored %d; DynamoDB requests during the flood and the pings %v (before %v); of a flood alone %v",
			frames, sent.Round(time.Millisecond), answered.Round(time.Millisecond), accepted.Load(), limited.Load(),
			badRetry.Load(), other.Load(), heard.Load(), out.Count, after, before, alone)
		b.ReportMetric(float64(accepted.Load()), "accepted")
		b.ReportMetric(float64(limited.Load()), "rate_limited")
		b.ReportMetric(float64(out.Count), "stored")
		b.ReportMetric(requests/frames, "requests/frame")
		b.ReportMetric(sent.Seconds(), "send-s")
		for p, name := range []string{"quiet", "flood"} {
			slices.Sort(rtts[p])
			b.ReportMetric(percentile(rtts[p], 0.99), "ping-p99-"+name+"-ms")
			b.ReportMetric(percentile(rtts[p], 0.50), "ping-p50-"+name+"-ms")
		}
	}
}

// percentile of sorted values (nearest rank); 0 for none.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
