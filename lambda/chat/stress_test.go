package chat_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

var stressLong = flag.Bool("stress.long", false, "run the concurrency stress test long (scripts/bench.sh stress)")

// stressPerson is one person of the stress test: a connection at a time,
// reconnecting with its resume token, and the refs it is owed answers for.
type stressPerson struct {
	h     *chattest.Harness
	room  string
	conn  string
	token string
	// answers counts, per ref this person sent, the frames that answered it
	// (its own copy, or an error): each must be exactly one.
	mu      sync.Mutex // two setNames of one person run at once
	answers map[string]int
	seq     int
	log     *stressLog
}

// TestConcurrentRoutesKeepTheInvariants runs every route at once for a few
// people who share a handful of names, on a lagging room index and with
// DynamoDB answering 500 after applying some writes, then checks what a
// user would notice: one holder per name, every connection's name claimed
// by it, nobody seen leaving who is connected, and every message and rename
// answered to its sender exactly once.
func TestConcurrentRoutesKeepTheInvariants(t *testing.T) {
	t.Parallel()
	people, rounds := 6, 25
	if *stressLong {
		people, rounds = 12, 250
	}
	h := chattest.New(t, chattest.Unlimited) // more frames than a person may: the invariants are tested, not the budget
	var injected atomic.Int64
	fail := ddbproxy.Fraction(0.05)
	h.DynamoDB.Inject(ddbproxy.Faults{IndexLag: 50 * time.Millisecond, ApplyThenFail: func(w ddbproxy.Write) bool {
		if fail(w) {
			injected.Add(1)
			return true
		}
		return false
	}})
	const room = "stress"
	names := []string{"Ann", "Bob", "Cid", "Dot"}

	log := &stressLog{}
	ps := make([]*stressPerson, people)
	for i := range ps {
		ps[i] = &stressPerson{h: h, room: room, answers: map[string]int{}, log: log}
		ps[i].connect(t, names[i%len(names)])
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() {
			for range rounds {
				switch n := rand.IntN(10); {
				case n < 4:
					p.send(t, `{"action":"sendPublic","message":"hi","ref":"%s"}`)
				case n < 6:
					p.send(t, `{"action":"setName","name":"`+names[rand.IntN(len(names))]+`","ref":"%s"}`)
				case n < 8:
					// Two renames to one name from one connection at once.
					name := names[rand.IntN(len(names))]
					var twins sync.WaitGroup
					for range 2 {
						twins.Go(func() { p.send(t, `{"action":"setName","name":"`+name+`","ref":"%s"}`) })
					}
					twins.Wait()
				default:
					if !p.reconnect(t) {
						return // reported: the person's connection is lost
					}
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	h.DynamoDB.Restore()

	refs := 0
	for _, p := range ps {
		p.collect(t, p.conn)
		refs += len(p.answers)
		for ref, n := range p.answers {
			if n != 1 {
				t.Errorf("ref %s was answered %d times, want exactly once", ref, n)
			}
		}
	}
	live := liveConnections(t, h, room)
	if len(live) != people {
		t.Errorf("%d live connections, want %d (one per person)", len(live), people)
		for _, p := range ps {
			if !slices.ContainsFunc(live, func(c liveConn) bool { return c.ID == p.conn }) {
				t.Errorf("%s is not live; the log says of it:%s", p.conn, log.of(t, h, room, p.conn))
			}
		}
	}
	held := map[string]string{}
	for _, c := range live {
		if other, dup := held[chat.Fold(c.Name)]; dup {
			t.Errorf("%q is held by two live connections (%s and %s)", c.Name, other, c.ID)
		}
		held[chat.Fold(c.Name)] = c.ID
		if owner, ok, err := h.Store.Owner(context.Background(), room, c.Name); err != nil || !ok || owner.ConnID != c.ID {
			t.Errorf("%s is called %q but the name's claim is %+v (held %v, err %v)", c.ID, c.Name, owner, ok, err)
		}
		if last := lastPresence(t, h, room, c.Name); last != "" {
			t.Errorf("%q is connected, yet the newest presence record for the name says %s", c.Name, last)
		}
	}
	t.Logf("%d people × %d rounds in %s (the longest $connect %s): %d sends and renames answered, %d live connections checked, %d writes applied then failed; DynamoDB requests: %v",
		people, rounds, took.Round(time.Millisecond), time.Duration(log.longest.Load()).Round(time.Millisecond), refs, len(live),
		injected.Load(), h.DynamoDB.Counts())
}

func (p *stressPerson) connect(t *testing.T, name string) {
	t.Helper()
	for range 5 {
		q := map[string]string{"name": name, "room": p.room}
		if p.token != "" {
			q["resume"] = p.token
		}
		began := p.h.Now()
		id, resp := p.h.Connect(q)
		p.log.connected(p, id, name, resp.StatusCode, p.h.Now().Sub(began))
		if resp.StatusCode == 200 {
			p.conn = id
			p.token = decode(t, []byte(p.h.Send(id, `{"action":"hello"}`))).Resume
			return
		}
	}
	t.Errorf("%s could not connect in 5 tries", name)
}

// send sends a frame whose "%s" is replaced by a fresh ref and counts the
// answers it gets.
func (p *stressPerson) send(t *testing.T, format string) {
	p.mu.Lock()
	p.seq++
	ref := fmt.Sprintf("%p-%d", p, p.seq)
	p.answers[ref] = 0
	p.mu.Unlock()
	p.h.Send(p.conn, fmt.Sprintf(format, ref))
}

// reconnect drops the connection the way a phone does and reconnects with
// the resume token, while the old connection's $disconnect runs. It
// returns false, reported, when the connection was already unknown.
func (p *stressPerson) reconnect(t *testing.T) bool {
	old := p.conn
	p.collect(t, old)
	f := decode(t, []byte(p.h.Send(old, `{"action":"hello"}`)))
	if f.Type != "state" {
		// Its own $disconnect has not run: whoever removed the record
		// logged its end.
		t.Errorf("hello answered %+v, want a state frame; the log says of %s:%s", f, old, p.log.of(t, p.h, p.room, old))
		return false
	}
	name := f.You
	var wg sync.WaitGroup
	wg.Go(func() { p.h.Disconnect(old) })
	p.connect(t, name)
	wg.Wait()
	return true
}

// collect counts the answers to this person's refs delivered to conn.
func (p *stressPerson) collect(t *testing.T, conn string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, raw := range p.h.GW.Take(conn) {
		f := decode(t, raw)
		if _, mine := p.answers[f.Ref]; mine && f.Ref != "" {
			p.answers[f.Ref]++
		}
	}
}

// stressLog keeps who made each connection and how long its $connect
// took, to say whose connection ended how when one is missing.
type stressLog struct {
	conns   sync.Map     // connection id → description
	longest atomic.Int64 // the longest $connect, ns
}

func (l *stressLog) connected(p *stressPerson, id, name string, status int, took time.Duration) {
	d := fmt.Sprintf("person %p asking for %q, $connect %d in %s", p, name, status, took.Round(time.Millisecond))
	if took > contract.FunctionTimeout {
		// The harness does not stop a $connect at the function's timeout:
		// a removal of it by a 410 then says the machine was too slow.
		d += ", longer than the function's timeout: on AWS it would have failed"
	}
	l.conns.Store(id, d)
	for {
		if old := l.longest.Load(); int64(took) <= old || l.longest.CompareAndSwap(old, int64(took)) {
			return
		}
	}
}

// of lists the activity records about connection id (its joined, its end,
// the ends of those it replaced), each with who made the connections.
func (l *stressLog) of(t *testing.T, h *chattest.Harness, room, id string) string {
	t.Helper()
	out := activityOf(t, h, room)
	var recs []map[string]any
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &recs); err != nil {
		t.Fatal(err)
	}
	var s strings.Builder
	for _, r := range recs {
		if r["connectionId"] == id || r["replacedBy"] == id {
			who, _ := l.conns.Load(r["connectionId"])
			fmt.Fprintf(&s, "\n\t%s %v of %v (%v)", r["kind"], r["from"], r["connectionId"], who)
			if by, ok := r["replacedBy"].(string); ok {
				byWho, _ := l.conns.Load(by)
				fmt.Fprintf(&s, " by %s (%v)", by, byWho)
			}
		}
	}
	return s.String()
}

type liveConn struct {
	ID   string `dynamodbav:"connectionId"`
	Room string `dynamodbav:"room"`
	Name string `dynamodbav:"name"`
	Gone string `dynamodbav:"gone"`
}

// liveConnections reads the Connections table itself (not the lagging
// index) for the room's live connection records.
func liveConnections(t *testing.T, h *chattest.Harness, room string) []liveConn {
	t.Helper()
	out, err := h.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(h.Tables.Connections), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var all []liveConn
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &all); err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(c liveConn) bool { return c.Room != room || c.Gone != "" })
}

// lastPresence returns "" when the newest presence record about name says
// someone has it (joined, renamed to it), else the kind that says nobody
// has (left, gone, renamed away from it). Records of one millisecond tie;
// a tie with any "has it" record counts as having it.
func lastPresence(t *testing.T, h *chattest.Harness, room, name string) string {
	t.Helper()
	out := activityOf(t, h, room)
	var recs []struct {
		Kind    chat.Kind `dynamodbav:"kind"`
		TS      int64     `dynamodbav:"ts"`
		From    string    `dynamodbav:"from"`
		OldName string    `dynamodbav:"oldName"`
	}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &recs); err != nil {
		t.Fatal(err)
	}
	var newest int64 = -1
	has, hasNot := false, ""
	for _, r := range recs {
		var says string // "+" has it, else the kind that says nobody has
		switch {
		case chat.Fold(r.From) == chat.Fold(name) && (r.Kind == chat.KindJoined || r.Kind == chat.KindRenamed):
			says = "+"
		case chat.Fold(r.From) == chat.Fold(name) && (r.Kind == chat.KindLeft || r.Kind == chat.KindGone):
			says = string(r.Kind)
		case r.Kind == chat.KindRenamed && chat.Fold(r.OldName) == chat.Fold(name) && chat.Fold(r.From) != chat.Fold(name):
			says = "renamed away"
		default:
			continue
		}
		if r.TS > newest {
			newest, has, hasNot = r.TS, false, ""
		}
		if r.TS == newest {
			if says == "+" {
				has = true
			} else {
				hasNot = says
			}
		}
	}
	if has || newest < 0 {
		return ""
	}
	return hasNot
}

// activityOf reads room's activity records (one page: the stress test's
// rooms hold far less than 1 MB of them).
func activityOf(t *testing.T, h *chattest.Harness, room string) *dynamodb.QueryOutput {
	t.Helper()
	out, err := h.DB.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(h.Tables.Messages),
		KeyConditionExpression:    aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": contract.MessagesStream},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":s": &ddbtypes.AttributeValueMemberS{Value: "activity#" + room}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
