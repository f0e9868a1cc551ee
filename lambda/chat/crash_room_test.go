package chat_test

// The small room of a crash-point scenario (crash_test.go): people with one
// or two connections, each connection with a page that follows the frames
// it receives as the web page does, and a record of what each client sent
// and was answered.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/chattest"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

const crashRoomName = "lobby"

// crashRoom is alice, bob and carol in one room (with sign-in alice has a
// laptop and a phone), and whoever a scenario adds.
type crashRoom struct {
	t      *testing.T
	h      *chattest.Harness
	signed bool
	people map[string]*crashPerson
	conns  []*crashConn // every connection ever opened, in order
	sent   []*sentFrame
	// privates are the private messages sent: who must get each.
	privates []privateSent
	// problems are what the clients saw go wrong while the scenario ran.
	problems []violation
	// tried names every connection id a $connect was run for.
	tried map[string]string
	// removed are the public messages a scenario removes (crash_remove_test.go).
	removed []string
	// sanctioned are the acts a scenario makes on accounts
	// (crash_moderation_test.go).
	sanctioned []sanctioned
	// edits are the edits a scenario makes (crash_edit_test.go).
	edits []editSent
	// publics are the public messages clients sent (crash_shards_test.go):
	// text → the connections open when it was first sent.
	publics map[string][]string
}

type crashPerson struct {
	key   string // "alice": also the account and the name asked for
	token string // the resume token of the last state (without sign-in)
}

type crashConn struct {
	id     string
	person *crashPerson
	device string
	open   bool // open on the Gateway: the client is connected
	page   chattest.Page
	frames []frame // every frame received, posted or answered
	// shown counts the public messages received, by id, as the page
	// keeps them (it drops one whose id it shows: crash_shards_test.go).
	shown map[string]int
}

// sentFrame is a frame a client sent with a ref: the answers it gets are
// counted on its connection.
type sentFrame struct {
	conn     *crashConn
	ref      string
	attempts int // 2 when the client retried it after a kill
	action   string
	want     string // the type of the answer that says it worked
	sent     string // the frame
}

type privateSent struct {
	from    *crashConn
	message string
	want    []string // the connections it must reach, and only those
}

func newCrashRoom(t *testing.T, signed bool, extra ...chattest.Option) *crashRoom {
	opts := append([]chattest.Option{chattest.Unlimited}, extra...)
	if signed {
		opts = append(opts, func(o *chat.Options) { o.Verifier = tokenIsAccount{} })
	}
	r := &crashRoom{t: t, h: chattest.New(t, opts...), signed: signed, people: map[string]*crashPerson{}, tried: map[string]string{},
		publics: map[string][]string{}}
	// No lag, no stale reads, no conflicts: the crash points are numbered
	// by the requests of an unkilled run, which must be the same on every
	// run, and the pages would have to wait out a lag in real time.
	r.h.DynamoDB.Inject(ddbproxy.Deterministic("crash points are numbered by the requests of an unkilled run, the same on every run"))
	for _, p := range []string{"alice", "bob", "carol", "dave"} {
		r.people[p] = &crashPerson{key: p}
	}
	r.join("alice", "laptop")
	if signed {
		r.join("alice", "phone")
	}
	r.join("bob", "")
	r.join("carol", "")
	return r
}

// tokenIsAccount accepts any token as the account of that id: the
// authorizer's scenario signs in without a user pool.
type tokenIsAccount struct{}

func (tokenIsAccount) Verify(_ context.Context, token string) (chat.Identity, error) {
	if token == "" {
		return chat.Identity{}, &chat.Refusal{Reason: chat.AuthMissing}
	}
	// Valid for a day of the harness's clock: no scenario meets its end.
	return chat.Identity{AccountID: token, Username: token, ExpiresAt: time.Now().Add(24 * time.Hour)}, nil
}

// join connects a person's device, says hello, and fails the test unless
// it worked.
func (r *crashRoom) join(person, device string) *crashConn {
	r.t.Helper()
	c, resp := r.connect(context.Background(), person, device)
	if c == nil {
		r.t.Fatalf("setup: %s could not connect: %d %s", person, resp.StatusCode, resp.Body)
	}
	r.hello(context.Background(), c)
	return c
}

// connect runs a person's $connect with ctx, as the web page would (its
// name, and its resume token: without sign-in, on its first connect one it
// made itself, which the server keeps, frontend/src/session.ts); on 200 the
// connection is open (the page then says hello: the caller's to send).
func (r *crashRoom) connect(ctx context.Context, person, device string) (*crashConn, events.APIGatewayProxyResponse) {
	p := r.people[person]
	id := chattest.NewConnID()
	q := map[string]string{"name": person, "room": crashRoomName}
	if p.token == "" && !r.signed {
		p.token = pageToken()
	}
	if p.token != "" {
		q["resume"] = p.token
	}
	if r.signed {
		r.h.SignIn(id, person, person)
	}
	r.tried[id] = fmt.Sprintf("%s's connection %s whose handshake failed", person, id)
	resp := r.h.Invoke(ctx, id, contract.RouteConnect, "", q)
	if chattest.AnswerLost(ctx) || resp.StatusCode != 200 {
		return nil, resp // API Gateway failed the handshake
	}
	return r.opened(id, p, device), resp
}

// pageToken is a resume token as the web page makes one before its first
// connect: 16 random bytes, base64url without padding.
func pageToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// opened makes a connection live.
func (r *crashRoom) opened(id string, p *crashPerson, device string) *crashConn {
	r.h.GW.Open(id)
	c := &crashConn{id: id, person: p, device: device, open: true}
	r.conns = append(r.conns, c)
	return c
}

// hello sends hello; the page takes the state. false when it was killed.
func (r *crashRoom) hello(ctx context.Context, c *crashConn) bool {
	r.drain()
	raw := r.h.Invoke(ctx, c.id, contract.RouteDefault, `{"action":"hello"}`, nil).Body
	if chattest.AnswerLost(ctx) {
		return false // the answer never reached the client
	}
	f := r.received(c, []byte(raw))
	if f.Type == "state" && !r.signed {
		c.person.token = f.Resume
	}
	return true
}

// send sends a frame from a connection, as API Gateway routes it; the
// answer of a two-way route is the client's. false when it was killed.
func (r *crashRoom) send(ctx context.Context, c *crashConn, body string) bool {
	r.sentPublic(body)
	resp := r.h.Invoke(ctx, c.id, contract.SelectRoute([]byte(body)), body, nil)
	if chattest.AnswerLost(ctx) {
		return false
	}
	if resp.Body != "" {
		r.received(c, []byte(resp.Body))
	}
	return true
}

// received gives a frame to the connection's page and log.
func (r *crashRoom) received(c *crashConn, raw []byte) frame {
	r.t.Helper()
	if err := c.page.Apply(raw); err != nil {
		r.t.Fatal(err)
	}
	var f frame
	if err := json.Unmarshal(raw, &f); err != nil {
		// A memberPage's members are objects: read the rest.
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil {
			r.t.Fatalf("a frame that is not JSON: %q", raw)
		}
		delete(fields, "members")
		b, _ := json.Marshal(fields)
		if err := json.Unmarshal(b, &f); err != nil {
			r.t.Fatalf("a frame the test cannot read: %q: %v", raw, err)
		}
	}
	c.frames = append(c.frames, f)
	r.shown(c, f, raw)
	return f
}

// drain runs the fan-out shards handed over so far, as Lambda runs them a
// moment later, and hands every open connection the frames posted to it.
func (r *crashRoom) drain() {
	if r.h.Shards != nil {
		r.h.Shards.Run()
	}
	for _, c := range r.conns {
		if c.open {
			for _, raw := range r.h.GW.Take(c.id) {
				r.received(c, raw)
			}
		}
	}
}

// vanish closes a connection's socket: API Gateway answers 410 for it from
// now on; its $disconnect is the caller's to run.
func (r *crashRoom) vanish(c *crashConn) {
	r.drain()
	c.open = false
	r.h.GW.Vanish(c.id)
}

// conn is a person's open connection (on that device, if given).
func (r *crashRoom) conn(person, device string) *crashConn {
	r.t.Helper()
	for _, c := range slices.Backward(r.conns) {
		if c.open && c.person.key == person && (device == "" || c.device == device) {
			return c
		}
	}
	r.t.Fatalf("%s has no open connection (device %q)", person, device)
	return nil
}

// inRoom lists the open connections of the people given (all when none).
func (r *crashRoom) inRoom(people ...string) []string {
	var out []string
	for _, c := range r.conns {
		if c.open && (len(people) == 0 || slices.Contains(people, c.person.key)) {
			out = append(out, c.id)
		}
	}
	return out
}

// frameWithRef registers a frame the client sends with a ref.
func (r *crashRoom) frameWithRef(c *crashConn, action, ref string) *sentFrame {
	s := &sentFrame{conn: c, ref: ref, action: action}
	r.sent = append(r.sent, s)
	return s
}

func (s *sentFrame) body(fields string) string {
	s.sent = fmt.Sprintf(`{"action":%q,"ref":%q%s}`, s.action, s.ref, fields)
	return s.sent
}

// goOn is what follows in the room: a minute later (every connection
// older than the stale grace) a member who is still there says something,
// so the broadcast meets every connection that is gone, and the pages take
// what they are sent.
func (r *crashRoom) goOn() {
	r.h.Advance(time.Minute)
	r.drain()
	speaker := r.speaker()
	s := r.frameWithRef(speaker, contract.RouteSendPublic, "final")
	s.attempts, s.want = 1, "public"
	r.send(context.Background(), speaker, s.body(`,"message":"still here?"`))
	r.drain()
}

// speaker is carol, or bob when carol is gone.
func (r *crashRoom) speaker() *crashConn {
	for _, p := range []string{"carol", "bob", "alice"} {
		for _, c := range slices.Backward(r.conns) {
			if c.open && c.person.key == p {
				return c
			}
		}
	}
	r.t.Fatal("nobody is left in the room to speak")
	return nil
}

func (c *crashConn) String() string {
	if c.device != "" {
		return fmt.Sprintf("%s's %s (%s)", c.person.key, c.device, c.id)
	}
	return fmt.Sprintf("%s (%s)", c.person.key, c.id)
}
