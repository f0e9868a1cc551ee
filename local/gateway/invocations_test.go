package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/internal/testkit"
)

// How the messages of one connection reach the handler: as on AWS, each as
// it arrives, concurrently with the others and with $disconnect.

// stuck is how long a test handler waits for something that should happen
// at once before it gives up, so a gateway that runs messages one at a time
// fails the test instead of hanging it.
const stuck = 5 * time.Second

func isMessage(ev events.APIGatewayWebsocketProxyRequest) bool {
	return ev.RequestContext.EventType == "MESSAGE"
}

// waitUntil waits until cond, checked after every event, holds.
func (r *recorder) waitUntil(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

// messagesOf counts the message events of connection id the handler has
// received.
func (r *recorder) messagesOf(id string) int {
	n := 0
	for _, ev := range r.all() {
		if isMessage(ev) && ev.RequestContext.ConnectionID == id {
			n++
		}
	}
	return n
}

func TestMessagesOfOneConnectionAreHandledConcurrently(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	// Each message waits in the handler until the other has arrived there
	// too: handled one at a time, neither sees the other.
	arrived := map[string]chan struct{}{"first": make(chan struct{}), "second": make(chan struct{})}
	other := map[string]string{"first": "second", "second": "first"}
	var mu sync.Mutex
	spans := map[string][2]time.Time{} // body → when its invocation began and ended
	s := start(t, func(hctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		began := time.Now()
		if mine, ok := arrived[ev.Body]; ok {
			close(mine)
			select {
			case <-arrived[other[ev.Body]]:
			case <-time.After(stuck):
			}
		}
		mu.Lock()
		spans[ev.Body] = [2]time.Time{began, time.Now()}
		mu.Unlock()
		return echo(hctx, ev)
	}, Config{})
	c, _ := s.dial(ctx, t, "")
	write(ctx, t, c, "first")
	write(ctx, t, c, "second")
	got := map[string]bool{read(ctx, t, c): true, read(ctx, t, c): true}
	if !got["$default:first"] || !got["$default:second"] {
		t.Fatalf("client got %v, want both answers", got)
	}
	mu.Lock()
	defer mu.Unlock()
	first, second := spans["first"], spans["second"]
	if !first[0].Before(second[1]) || !second[0].Before(first[1]) {
		t.Errorf("invocations did not overlap: first ran %s–%s, second %s–%s",
			first[0].Format("05.000"), first[1].Format("05.000"), second[0].Format("05.000"), second[1].Format("05.000"))
	}
}

func TestRouteResponsesComeBackInTheOrderTheHandlerFinishes(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	release := make(chan struct{})
	s := start(t, func(hctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if ev.Body == "slow" {
			select {
			case <-release:
			case <-time.After(stuck):
			}
		}
		return echo(hctx, ev)
	}, Config{})
	c, _ := s.dial(ctx, t, "")
	write(ctx, t, c, "slow")
	write(ctx, t, c, "fast")
	if got := read(ctx, t, c); got != "$default:fast" {
		t.Fatalf("first answer %q, want the fast message's: a slow message does not hold back the next", got)
	}
	close(release)
	if got := read(ctx, t, c); got != "$default:slow" {
		t.Fatalf("second answer %q, want the slow message's", got)
	}
}

func TestSerialFramesRunOneConnectionsMessagesInOrder(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	written := make(chan struct{})
	s := start(t, func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if ev.Body == "0" {
			// A slow first message must not be overtaken: it is still in
			// the handler when the other 29 have been sent.
			select {
			case <-written:
			case <-time.After(stuck):
			}
		}
		return echo(context.Background(), ev)
	}, Config{SerialFrames: true})
	c, _ := s.dial(ctx, t, "")
	for i := range 30 {
		write(ctx, t, c, fmt.Sprint(i))
	}
	close(written)
	for i := range 30 {
		if got, want := read(ctx, t, c), fmt.Sprintf("$default:%d", i); got != want {
			t.Fatalf("answer %d is %q, want %q", i, got, want)
		}
	}
}

func TestSerialFramesRunDisconnectAfterTheLastMessage(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	var inHandler, overlapped atomic.Bool
	closed := make(chan struct{})
	s := start(t, func(hctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if ev.RequestContext.RouteKey == "$disconnect" {
			overlapped.Store(inHandler.Load())
		}
		if isMessage(ev) {
			inHandler.Store(true)
			defer inHandler.Store(false)
			select { // the client closes meanwhile
			case <-closed:
			case <-time.After(stuck):
			}
		}
		return echo(hctx, ev)
	}, Config{SerialFrames: true})
	c, id := s.dial(ctx, t, "")
	write(ctx, t, c, "slow")
	s.events.waitFor(ctx, t, "message", isMessage)
	_ = c.Close(websocket.StatusNormalClosure, "") // the gateway answered the close frame
	close(closed)
	s.events.disconnectOf(ctx, t, id)
	if overlapped.Load() {
		t.Error("$disconnect started while the message was still in the handler")
	}
}

func TestDisconnectRunsWhileAMessageIsStillInTheHandler(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	log := &testkit.Buffer{Tee: testLog{t}}
	disconnecting := make(chan struct{})
	var sawDisconnect atomic.Bool
	s := start(t, func(hctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		switch {
		case ev.RequestContext.RouteKey == "$disconnect":
			close(disconnecting)
		case ev.Body == "slow":
			select {
			case <-disconnecting:
				sawDisconnect.Store(true)
			case <-time.After(stuck):
			}
		}
		return echo(hctx, ev) // the slow message's route response finds the connection gone
	}, Config{Log: log})
	c, id := s.dial(ctx, t, "")
	write(ctx, t, c, "slow")
	s.events.waitFor(ctx, t, "message", isMessage)
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close: %v", err)
	}
	s.events.disconnectOf(ctx, t, id)
	// Shutdown returns once the message, too, has been handled.
	if err := s.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !sawDisconnect.Load() {
		t.Errorf("$disconnect waited for the message in the handler, want it to start at once as on AWS")
	}
	if want := id + " $default route response dropped: the connection has ended"; !strings.Contains(log.String(), want) {
		t.Errorf("log does not say %q", want)
	}
}

func TestShutdownWaitsForMessagesStillInTheHandler(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	release := make(chan struct{})
	var returned atomic.Bool
	s := start(t, func(hctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if ev.Body == "slow" {
			select {
			case <-release:
			case <-time.After(stuck):
			}
			returned.Store(true)
		}
		return echo(hctx, ev)
	}, Config{})
	c, id := s.dial(ctx, t, "")
	closed := awaitClose(ctx, t, c)
	write(ctx, t, c, "slow")
	s.events.waitFor(ctx, t, "message", isMessage)

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err := s.gw.Shutdown(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a message in the handler: %v, want it still waiting at its deadline", err)
	}
	s.events.disconnectOf(ctx, t, id)
	close(release)
	if err := s.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !returned.Load() {
		t.Error("Shutdown returned before the message's handler did")
	}
	if ce := closed()[0]; ce.Code != websocket.StatusGoingAway {
		t.Errorf("client closed with %v, want 1001", ce)
	}
}

func TestAConnectionHasAtMostMaxInFlightMessagesInTheHandler(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	release := make(chan struct{})
	waiting := make(chan struct{}, 1)
	s := start(t, func(hctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if isMessage(ev) {
			select {
			case <-release:
			case <-time.After(stuck):
			}
		}
		return echo(hctx, ev)
	}, Config{}, func(g *Gateway) {
		g.slotWait = func(string) {
			select {
			case waiting <- struct{}{}:
			default:
			}
		}
	})
	c, id := s.dial(ctx, t, "")
	const sent = maxInFlight + 4
	for i := range sent {
		write(ctx, t, c, fmt.Sprint(i))
	}
	s.events.waitUntil(ctx, t, fmt.Sprintf("%d messages in the handler", maxInFlight), func() bool {
		return s.events.messagesOf(id) >= maxInFlight
	})
	// The gateway has read the next message and holds it back: a gateway
	// without the cap would have let it in instead.
	select {
	case <-waiting:
	case <-ctx.Done():
		t.Fatalf("the gateway never held back message %d: %v", maxInFlight+1, ctx.Err())
	}
	if n := s.events.messagesOf(id); n != maxInFlight {
		t.Errorf("%d messages in the handler at once, want the cap of %d", n, maxInFlight)
	}
	close(release)
	got := map[string]bool{}
	for range sent {
		got[read(ctx, t, c)] = true
	}
	if len(got) != sent {
		t.Errorf("%d distinct answers after the handler let go, want %d", len(got), sent)
	}
}

func TestRouteResponsesOverTheMessageLimitAreNotDelivered(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 20*time.Second)
	log := &testkit.Buffer{Tee: testLog{t}}
	// A message "N" is answered with N bytes.
	s := start(t, func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		n, _ := strconv.Atoi(ev.Body)
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: strings.Repeat("x", n)}, nil
	}, Config{Log: log, SerialFrames: true}) // serial: the next answer proves the one before was not sent
	const limit = DefaultMessageLimit
	c, id := s.dial(ctx, t, "")
	write(ctx, t, c, fmt.Sprint(limit+1))
	write(ctx, t, c, fmt.Sprint(limit))
	if got := read(ctx, t, c); len(got) != limit {
		t.Fatalf("client got %d bytes first, want only the answer of exactly the limit (%d bytes)", len(got), limit)
	}
	if want := fmt.Sprintf("%s $default route response of %d bytes not delivered", id, limit+1); !strings.Contains(log.String(), want) {
		t.Errorf("log does not say %q", want)
	}

	// The management API has the same limit; above it the POST is refused.
	client := s.managementClient()
	post := func(n int) error {
		_, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: make([]byte, n)})
		return err
	}
	if err := post(limit); err != nil {
		t.Fatalf("posting exactly the limit: %v", err)
	}
	if got := read(ctx, t, c); len(got) != limit {
		t.Errorf("client got %d bytes from the POST, want %d", len(got), limit)
	}
	var tooLarge *types.PayloadTooLargeException
	if err := post(limit + 1); !errors.As(err, &tooLarge) {
		t.Errorf("posting the limit + 1 byte: %v, want *types.PayloadTooLargeException", err)
	}
}
