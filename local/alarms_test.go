package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/load"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/cognito"
	"github.com/groupchat/groupchat/local/ddbproxy"
	"github.com/groupchat/groupchat/local/gateway"
	"github.com/groupchat/groupchat/local/metrics"
	"github.com/groupchat/groupchat/observability"
)

// The alarms of the one definition (package observability), evaluated by
// the local stack over what it measured, go to ALARM under the fault each
// exists for and back to OK once it is gone. The stack's clock is the
// test's: every sample is stamped with it and the evaluator reads it, so a
// period (1 s here, 5 minutes as deployed) passes when the test steps the
// clock, and a test takes the seconds its traffic takes. The thresholds are
// the definition's; the duration alarm's is 80% of the stack's handler
// timeout, which a test shortens to see it fire. Every check holds under
// every reading of CloudWatch's open rules (metrics.Readings): the same
// alarms are evaluated over the same store by one evaluator per reading.

// clock is a test's clock, stepped by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) step(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

const period = time.Second

// alarmStack is a local stack whose metrics run on a stepped clock.
type alarmStack struct {
	*localtest.Stack
	clock *clock
	// under are the stack's alarms evaluated under each reading.
	under map[metrics.Reading]*metrics.Evaluator
}

func startAlarmStack(t *testing.T, o local.Options) *alarmStack {
	t.Helper()
	// Mid-period, so a step lands in the next period's middle.
	c := &clock{now: time.Unix(1_800_000_000, 0).Add(period / 2)}
	o.Metrics = local.MetricsOptions{Period: period, Now: c.Now}
	s := localtest.Start(t, o)
	t.Cleanup(func() {
		if t.Failed() {
			log := s.Log()
			t.Logf("stack log (last 3000 bytes):\n%s", log[max(0, len(log)-3000):])
		}
	})
	under := map[metrics.Reading]*metrics.Evaluator{}
	for _, r := range metrics.Readings() {
		under[r] = metrics.NewEvaluator(s.Stack.Metrics, s.Observability.Alarms, period)
		under[r].SetReading(r)
	}
	return &alarmStack{Stack: s, clock: c, under: under}
}

// quiesce waits until every invocation so far has been counted in the
// store (the Lambda metrics are the last thing an invocation writes) and
// none is running.
func (s *alarmStack) quiesce(ctx context.Context, t *testing.T) {
	t.Helper()
	invocations := observability.Metric{Namespace: observability.NamespaceLambda, Name: "Invocations", Stat: observability.SampleCount}
	for {
		want := len(s.Invocations())
		var got float64
		for _, l := range s.Stack.Stack.Metrics.Query(invocations, time.Hour, s.clock.Now().Add(-24*time.Hour), s.clock.Now()) {
			for _, p := range l.Points {
				got += p.Value
			}
		}
		if int(got) >= want && s.Running() == 0 && len(s.Invocations()) == want {
			return // every invocation that started has ended, been recorded and been counted
		}
		select {
		case <-ctx.Done():
			t.Fatalf("invocations not all counted: %v of %d", got, want)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// states are every alarm's state under each reading.
type states map[metrics.Reading]map[string]metrics.AlarmStatus

// period ends the current period and evaluates every alarm under every
// reading (and the stack's own evaluator, as the dashboard would).
func (s *alarmStack) endPeriod(ctx context.Context, t *testing.T) states {
	t.Helper()
	s.quiesce(ctx, t)
	s.clock.step(period)
	s.Alarms.Evaluate()
	out := states{}
	for r, e := range s.under {
		out[r] = map[string]metrics.AlarmStatus{}
		for _, a := range e.Evaluate() {
			out[r][a.ID] = a
		}
	}
	return out
}

// expect checks the states of the named alarms, and that every other
// alarm is not in ALARM, under every reading.
func expect(t *testing.T, when string, got states, want map[string]metrics.State) {
	t.Helper()
	for r, byID := range got {
		for id, st := range byID {
			w, named := want[id]
			switch {
			case named && st.State != w:
				t.Errorf("%s (%s): %s is %s (%s), want %s", when, r, id, st.State, st.Reason, w)
			case !named && st.State == metrics.StateAlarm:
				t.Errorf("%s (%s): %s is in ALARM (%s)", when, r, id, st.Reason)
			}
		}
		for id := range want {
			if _, ok := byID[id]; !ok {
				t.Errorf("%s: no alarm %s", when, id)
			}
		}
	}
}

// person is a WebSocket client of the stack.
type person struct {
	name   string
	ws     *websocket.Conn
	frames chan string
}

func connect(ctx context.Context, t *testing.T, s *alarmStack, name, room string) *person {
	t.Helper()
	return connectQuery(ctx, t, s, url.Values{"name": {name}, "room": {room}})
}

func connectQuery(ctx context.Context, t *testing.T, s *alarmStack, q url.Values) *person {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, s.URL+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatalf("%s connects: %v", q.Get("name"), err)
	}
	p := &person{name: q.Get("name"), ws: ws, frames: make(chan string, 1024)}
	go func() {
		defer close(p.frames)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			select {
			case p.frames <- string(data):
			default: // nobody reads them: drop
			}
		}
	}()
	t.Cleanup(func() { _ = ws.Close(websocket.StatusNormalClosure, "") })
	return p
}

func (p *person) say(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	for i := range n {
		msg := fmt.Sprintf(`{"action":"sendPublic","message":"m%d"}`, i)
		if err := p.ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
}

// acquainted waits until a message of each of a and b reaches the other:
// the room index, which a broadcast reads and which lags the $connects,
// lists both. A case's broadcast during its fault then posts to both, as
// the cases count on (a loaded run's first broadcasts, within the index's
// lag, posted to the sender alone: one slow call, not two, and no alarm).
func acquainted(ctx context.Context, t *testing.T, a, b *person) {
	t.Helper()
	for _, p := range [][2]*person{{a, b}, {b, a}} {
		from, to := p[0], p[1]
		for !to.heardFrom(ctx, t, from, 250*time.Millisecond) {
			from.say(ctx, t, 1)
		}
	}
}

// heardFrom reads p's frames for up to wait and reports whether one is a
// public message from other.
func (p *person) heardFrom(ctx context.Context, t *testing.T, other *person, wait time.Duration) bool {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-p.frames:
			if !ok {
				t.Fatalf("%s's connection ended", p.name)
			}
			var m struct{ Type, From string }
			if json.Unmarshal([]byte(f), &m) == nil && m.Type == "public" && m.From == other.name {
				return true
			}
		case <-timer.C:
			return false
		case <-ctx.Done():
			t.Fatalf("%s never heard from %s: %v", p.name, other.name, ctx.Err())
		}
	}
}

// talk has two people of a room exchange n messages each and waits until
// every invocation is done.
func talk(ctx context.Context, t *testing.T, s *alarmStack, a, b *person, n int) {
	t.Helper()
	before := len(s.Invocations())
	a.say(ctx, t, n)
	b.say(ctx, t, n)
	for len(s.Invocations()) < before+2*n {
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d messages handled", len(s.Invocations())-before, 2*n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// faultCase is a fault, the alarms it must set off, and the stack it
// needs.
type faultCase struct {
	name    string
	options local.Options
	inject  func(s *alarmStack)
	clear   func(s *alarmStack)
	alarms  []string
	// messages each person sends during the fault.
	messages int
}

func TestEachFaultSetsOffItsAlarmAndItReturnsToOK(t *testing.T) {
	t.Parallel()
	always := func(string) bool { return true }
	cases := []faultCase{{
		name:   "management API failures",
		inject: func(s *alarmStack) { s.Gateway.SetFaults(gateway.Faults{FailPost: always}) },
		clear:  func(s *alarmStack) { s.Gateway.SetFaults(gateway.Faults{}) },
		alarms: []string{"FailedDeliveries"}, messages: 2,
	}, {
		name:   "DynamoDB outage",
		inject: func(s *alarmStack) { s.DynamoDBProxy.Inject(ddbproxy.Faults{Unavailable: true}) },
		clear:  func(s *alarmStack) { s.DynamoDBProxy.Restore() },
		// Every action needs the Connections table first; the handler
		// answers each with the internal error.
		alarms: []string{"ConnectionsSystemErrors", "InternalErrors"}, messages: 2,
	}, {
		// Handler errors: DynamoDB slower than the function's timeout, so
		// every invocation runs out of time and fails, and API Gateway
		// counts an integration error for each (five make the alarm).
		name: "handler errors",
		// (A 3 s timeout: a healthy invocation on a loaded machine stays
		// far below its 2.4 s duration threshold.)
		options: local.Options{Gateway: gateway.Config{HandlerTimeout: 3 * time.Second}},
		inject:  func(s *alarmStack) { s.DynamoDBProxy.Inject(ddbproxy.Faults{Latency: 4 * time.Second}) },
		clear:   func(s *alarmStack) { s.DynamoDBProxy.Restore() },
		alarms:  []string{"LambdaErrors", "ApiIntegrationErrors", "LambdaDurationP99"}, messages: 3,
	}, {
		// Latency: the management API answers in 2.1 s and the fan-out
		// posts one at a time (a pool of 1, as a room far larger than the
		// pool would), so a broadcast to two takes longer than 80% of the
		// function's 5 s timeout (4 s) without reaching the fan-out's own
		// deadline (0.5 s before it) or a delivery's (3 s).
		name:    "latency",
		options: local.Options{Gateway: gateway.Config{HandlerTimeout: 5 * time.Second}},
		inject: func(s *alarmStack) {
			s.SetPoolSize(1)
			s.SetLatency(2100 * time.Millisecond)
		},
		clear: func(s *alarmStack) {
			s.SetPoolSize(0)
			s.SetLatency(0)
		},
		alarms: []string{"LambdaDurationP99"}, messages: 1,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testkit.Context(t, 90*time.Second)
			s := startAlarmStack(t, tc.options)
			room := "alarms"
			a, b := connect(ctx, t, s, "Ann", room), connect(ctx, t, s, "Bob", room)
			acquainted(ctx, t, a, b)

			talk(ctx, t, s, a, b, 2)
			healthy := map[string]metrics.State{}
			for _, id := range tc.alarms {
				healthy[id] = metrics.StateOK
			}
			expect(t, "before the fault", s.endPeriod(ctx, t), healthy)

			tc.inject(s)
			talk(ctx, t, s, a, b, tc.messages)
			during := s.endPeriod(ctx, t)
			for r, byID := range during {
				for _, id := range tc.alarms {
					if st := byID[id]; st.State != metrics.StateAlarm {
						t.Errorf("during the fault (%s): %s is %s (%s), want ALARM", r, id, st.State, st.Reason)
					}
				}
			}

			tc.clear(s)
			talk(ctx, t, s, a, b, 2)
			expect(t, "after the fault", s.endPeriod(ctx, t), healthy)
		})
	}
}

// TestHealthyLoadLeavesEveryAlarmOK: the load tool's steady run against a
// stack without faults (its real handler timeout) leaves every alarm OK
// under every reading, the DynamoDB ones included: an operation the run
// did not call has no datapoint, which only their FILL turns into a 0
// under the strict reading.
func TestHealthyLoadLeavesEveryAlarmOK(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 90*time.Second)
	s := startAlarmStack(t, local.Options{})
	res, err := load.Run(ctx, load.Config{URL: s.URL, Clients: 20, RoomSize: 5, Rate: 40, Duration: 2 * time.Second,
		Settle: 200 * time.Millisecond, Drain: 5 * time.Second})
	if err != nil {
		t.Fatalf("load run: %v", err)
	}
	if !res.Complete {
		t.Fatalf("the load run was not complete: %+v", res)
	}
	all := map[string]metrics.State{}
	for _, a := range s.Observability.Alarms {
		all[a.ID] = metrics.StateOK
	}
	expect(t, "after a healthy load run", s.endPeriod(ctx, t), all)
	// And it stays so with no traffic at all (missing data is not
	// breaching; DynamoDB's alarms keep their state or read 0s filled in).
	expect(t, "in a quiet period after the run", s.endPeriod(ctx, t), all)
}

// TestRefusedSignInsSetOffAuthFailures: with sign-in on, twenty handshakes
// with a forged token in one period (the definition's threshold) set off
// AuthFailures; signed-in people talking afterwards bring it back to OK.
func TestRefusedSignInsSetOffAuthFailures(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 90*time.Second)
	s := startAlarmStack(t, local.Options{Auth: contract.AuthCognito})
	token, err := s.Token(ctx, "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	signedIn := func(name string) *person {
		return connectQuery(ctx, t, s, url.Values{"name": {name}, "room": {"alarms"}, contract.AuthQueryParam: {token}})
	}
	a, b := signedIn("Alice"), signedIn("Alice2")
	talk(ctx, t, s, a, b, 1)
	expect(t, "before", s.endPeriod(ctx, t), map[string]metrics.State{"AuthFailures": metrics.StateOK})

	// A token whose signature is not the pool's: the authorizer refuses it.
	forged := token[:len(token)-4] + "AAAA"
	for i := range observability.AuthFailuresThreshold {
		ws, resp, err := websocket.Dial(ctx, s.URL+"?"+url.Values{"name": {fmt.Sprint("M", i)}, "room": {"alarms"},
			contract.AuthQueryParam: {forged}}.Encode(), nil)
		if err == nil {
			_ = ws.CloseNow()
			t.Fatalf("a forged token was let in")
		}
		if resp == nil || resp.StatusCode != 403 {
			t.Fatalf("a forged token: %v, %v; want 403", resp, err)
		}
	}
	during := s.endPeriod(ctx, t)
	expect(t, "after twenty forged tokens", during, map[string]metrics.State{"AuthFailures": metrics.StateAlarm})

	talk(ctx, t, s, a, b, 1)
	expect(t, "after", s.endPeriod(ctx, t), map[string]metrics.State{"AuthFailures": metrics.StateOK})
}

// TestRefusedSignUpsDoNotSetOffLambdaErrors: a sign-up the Pre sign-up
// trigger refuses (a look-alike of a reserved username) is a function error
// to Lambda, and counted in SignUpsRefused, which LambdaErrors subtracts.
func TestRefusedSignUpsDoNotSetOffLambdaErrors(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 90*time.Second)
	s := startAlarmStack(t, local.Options{Auth: contract.AuthCognito})
	expect(t, "before", s.endPeriod(ctx, t), map[string]metrics.State{"LambdaErrors": metrics.StateOK})
	for _, lookAlike := range []string{"a1ice", "BOB", "caro1"} {
		if _, err := s.Token(ctx, lookAlike, true); !errors.Is(err, cognito.ErrSignUpRefused) {
			t.Fatalf("%s's sign-up: %v, want it refused", lookAlike, err)
		}
	}
	expect(t, "after three refused sign-ups", s.endPeriod(ctx, t), map[string]metrics.State{"LambdaErrors": metrics.StateOK})
}
