package chat_test

// What each crash-point scenario kills (crash_test.go), and what the client
// does after: every route, each action $default serves, and the $connect
// authorizer.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// crashScenario is one invocation to kill at every crash point.
type crashScenario struct {
	route string // the route key, or "authorizer"
	what  string // who does what, for the test's name and its reports
	// open and signed are the modes it runs in (sign-in off, on).
	open, signed bool
	// start readies the room and returns the invocation to kill and what
	// the client does after it (killed: the client got no answer).
	start func(r *crashRoom) (invoke func(ctx context.Context), after func(killed bool))
}

const (
	authorizerRoute = "authorizer"
	preSignUpRoute  = "presignup" // the user pool's Pre sign-up trigger
)

var crashScenarios = []crashScenario{
	{route: contract.RouteConnect, what: "dave-joins", open: true, signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		var dave *crashConn
		return func(ctx context.Context) { dave, _ = r.connect(ctx, "dave", "") },
			func(bool) { r.connectAgain(&dave, "dave", "") }
	}},
	{route: contract.RouteConnect, what: "bob-reconnects", open: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		return r.reconnect("bob", "")
	}},
	{route: contract.RouteConnect, what: "alice-phone-reconnects", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		return r.reconnect("alice", "phone")
	}},
	{route: authorizerRoute, what: "dave-signs-in", open: true, signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		var resp events.APIGatewayCustomAuthorizerResponse
		var err error
		authorize := func(ctx context.Context) {
			resp, err = r.h.Service.Authorize(ctx, contract.AuthorizerEvent{Type: "REQUEST",
				MethodArn:             "arn:aws:execute-api:us-east-1:123456789012:api/test/$connect",
				QueryStringParameters: map[string]string{contract.AuthQueryParam: "dave", "room": crashRoomName}})
		}
		return authorize, func(killed bool) {
			if killed {
				authorize(context.Background()) // the handshake failed: the page connects again
			}
			allowed := err == nil && len(resp.PolicyDocument.Statement) == 1 && resp.PolicyDocument.Statement[0].Effect == "Allow"
			switch {
			case r.signed && !allowed:
				r.problem("authorizer", "dave's token was not let in: %+v %v", resp.PolicyDocument, err)
			case !r.signed && allowed:
				r.problem("authorizer", "without sign-in the authorizer let a connection in")
			case r.signed:
				r.join("dave", "")
			}
		}
	}},
	{route: preSignUpRoute, what: "dave-signs-up", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		var err error
		signUp := func(ctx context.Context) {
			_, err = r.h.Service.PreSignUp(ctx, chat.PreSignUpEvent{CognitoEventUserPoolsHeader: events.CognitoEventUserPoolsHeader{
				TriggerSource: "PreSignUp_SignUp", UserName: "dave"}})
		}
		return signUp, func(killed bool) {
			if killed {
				signUp(context.Background()) // Cognito retries a trigger that timed out
			}
			if err != nil {
				r.problem(preSignUpRoute, "dave's sign-up was refused: %v", err)
				return
			}
			r.join("dave", "")
			if owner, err := r.h.Store.NameOwner(context.Background(), "dave"); err != nil || owner != "dave" {
				r.problem(preSignUpRoute, "dave signed up and connected, and the name dave is %q's (%v)", owner, err)
			}
		}
	}},
	{route: contract.RouteDisconnect, what: "carol-leaves", open: true, signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		return r.leave("carol", "")
	}},
	{route: contract.RouteDisconnect, what: "alice-closes-phone-keeps-laptop", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		return r.leave("alice", "phone")
	}},
	// The room counts people (issue 22): alice's third device joins her
	// others without counting, her last one leaving takes her off.
	{route: contract.RouteConnect, what: "alice-opens-a-tablet-beside-laptop-and-phone", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		var tablet *crashConn
		return func(ctx context.Context) { tablet, _ = r.connect(ctx, "alice", "tablet") },
			func(bool) { r.connectAgain(&tablet, "alice", "tablet") }
	}},
	{route: contract.RouteDisconnect, what: "alice-closes-laptop-after-phone", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		phone := r.conn("alice", "phone")
		r.vanish(phone)
		r.h.Invoke(context.Background(), phone.id, contract.RouteDisconnect, "", nil)
		return r.leave("alice", "laptop")
	}},
	{route: contract.RouteDefault, what: "hello-from-dave", open: true, signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		dave, resp := r.connect(context.Background(), "dave", "")
		if dave == nil {
			r.t.Fatalf("setup: dave could not connect: %d", resp.StatusCode)
		}
		return func(ctx context.Context) { r.hello(ctx, dave) }, func(killed bool) {
			if killed {
				r.hello(context.Background(), dave)
			}
			r.answered(dave, "state")
		}
	}},
	{route: contract.RouteDefault, what: "ping-from-bob", open: true, signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		bob := r.conn("bob", "")
		return func(ctx context.Context) { r.send(ctx, bob, `{"action":"ping"}`) }, func(killed bool) {
			if killed {
				r.send(context.Background(), bob, `{"action":"ping"}`)
			}
			r.answered(bob, "pong")
		}
	}},
	{route: contract.RouteDefault, what: "members-from-bob", open: true, signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		return r.retried(r.conn("bob", ""), "members", "m1", "", "memberPage")
	}},
	// A page of scrollback: its only write is the budget's charge.
	{route: contract.RouteDefault, what: "history-from-bob", open: true, signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		return r.retried(r.conn("bob", ""), "history", "h1", "", "historyPage")
	}},
	{route: contract.RouteSetName, what: "bob-becomes-robert", open: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		return r.retried(r.conn("bob", ""), contract.RouteSetName, "n1", `,"name":"Robert"`, "renamed")
	}},
	{route: contract.RouteSetName, what: "bob-becomes-robert-then-closes", open: true, signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		// The page does not send the rename again (app.ts drops one that may
		// not have arrived), and then the tab closes.
		bob := r.conn("bob", "")
		return func(ctx context.Context) { r.send(ctx, bob, `{"action":"setName","name":"Robert"}`) }, func(bool) {
			r.vanish(bob)
			r.h.Invoke(context.Background(), bob.id, contract.RouteDisconnect, "", nil)
		}
	}},
	{route: contract.RouteSetName, what: "alice-laptop-becomes-alicia", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		return r.retried(r.conn("alice", "laptop"), contract.RouteSetName, "n1", `,"name":"Alicia"`, "renamed")
	}},
	{route: contract.RouteSendPublic, what: "alice-says-hi", open: true, signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		return r.retried(r.conn("alice", "laptop"), contract.RouteSendPublic, "p1", `,"message":"hi all"`, "public")
	}},
	{route: contract.RouteSendPublic, what: "bob-speaks-after-carol-vanished", open: true, signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		// Carol's network dropped a minute ago ($disconnect comes at the
		// idle timeout): bob's message meets her, and removes her as stale.
		r.vanish(r.conn("carol", ""))
		r.h.Advance(time.Minute)
		return r.retried(r.conn("bob", ""), contract.RouteSendPublic, "p1", `,"message":"anyone?"`, "public")
	}},
	{route: contract.RouteSendPrivate, what: "alice-to-bob", open: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		alice := r.conn("alice", "")
		r.privates = append(r.privates, privateSent{from: alice, message: "psst bob", want: r.inRoom("alice", "bob")})
		return r.retried(alice, contract.RouteSendPrivate, "q1", `,"to":["bob"],"message":"psst bob"`, "private")
	}},
	{route: contract.RouteDefault, what: "alice-laptop-reauths", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		return r.retried(r.conn("alice", "laptop"), contract.ActionReauth, "r1", `,"token":"alice"`, contract.FrameReauthed)
	}},
	{route: contract.RouteDefault, what: "alice-signs-out-everywhere", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		laptop := r.conn("alice", "laptop")
		var alices []*crashConn
		for _, c := range r.conns {
			if c.open && c.person.key == "alice" {
				alices = append(alices, c)
			}
		}
		signOut := func(ctx context.Context) { r.send(ctx, laptop, `{"action":"signOutEverywhere"}`) }
		return signOut, func(killed bool) {
			// Killed after the sign-out's write, before its closes: each
			// other device whose close was lost is refused at its next
			// frame and closed then, its frame neither stored nor sent.
			if a, err := r.h.Store.Account(context.Background(), "alice"); err != nil {
				r.problem("signout", "read alice's account: %v", err)
			} else if !a.SignedOutAt.IsZero() {
				r.signedOutFrames(alices, laptop)
			}
			if killed && !slices.Contains(r.h.GW.Closed(), laptop.id) {
				// The page had no answer: it says so (app.ts), and the
				// person asks again.
				signOut(context.Background())
			}
			closed := r.h.GW.Closed()
			for _, c := range alices {
				if !slices.Contains(closed, c.id) {
					r.problem("signout", "%s was not closed by signOutEverywhere (closed %v)", c, closed)
				}
				r.vanish(c)
				r.h.Invoke(context.Background(), c.id, contract.RouteDisconnect, "", nil) // API Gateway's, after the close
			}
		}
	}},
	{route: contract.RouteSendPrivate, what: "bob-to-alice-on-two-devices", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
		bob := r.conn("bob", "")
		r.privates = append(r.privates, privateSent{from: bob, message: "psst alice", want: r.inRoom("alice", "bob")})
		return r.retried(bob, contract.RouteSendPrivate, "q1", `,"to":["alice"],"message":"psst alice"`, "private")
	}},
}

// connectAgain is the page after a failed handshake: it connects again
// (a new connection, the same resume token or account), and says hello.
func (r *crashRoom) connectAgain(c **crashConn, person, device string) {
	for try := 0; *c == nil && try < 3; try++ {
		*c, _ = r.connect(context.Background(), person, device)
	}
	if *c == nil {
		r.problem("retry", "%s could not connect again after the kill", person)
		return
	}
	r.hello(context.Background(), *c)
	if f := (*c).frames[len((*c).frames)-1]; f.Type == "state" && f.You != person {
		r.problem("names", "%s connected again asking for the name %q, which is theirs, and is %q (warning %+v)", *c, person, f.You, f.Warning)
	}
}

// reconnect: a person's connection drops (its $disconnect comes late), and
// the page connects again with its resume token (or account).
func (r *crashRoom) reconnect(person, device string) (func(context.Context), func(bool)) {
	old := r.conn(person, device)
	r.vanish(old)
	var again *crashConn
	return func(ctx context.Context) { again, _ = r.connect(ctx, person, device) }, func(bool) {
		r.connectAgain(&again, person, device)
		r.h.Invoke(context.Background(), old.id, contract.RouteDisconnect, "", nil) // the old connection's, late
	}
}

// leave: a person closes a tab; after a killed $disconnect the client is
// gone and nothing follows.
func (r *crashRoom) leave(person, device string) (func(context.Context), func(bool)) {
	c := r.conn(person, device)
	r.vanish(c)
	return func(ctx context.Context) { r.h.Invoke(ctx, c.id, contract.RouteDisconnect, "", nil) }, func(bool) {}
}

// retried sends a frame with a ref; a client that got no answer sends the
// same frame again. want is the type of the answer that says it worked.
func (r *crashRoom) retried(c *crashConn, action, ref, fields, want string) (func(context.Context), func(bool)) {
	s := r.frameWithRef(c, action, ref)
	s.want = want
	body := s.body(fields)
	return func(ctx context.Context) {
			s.attempts++
			r.send(ctx, c, body)
		}, func(killed bool) {
			if killed {
				r.drain()
				if !r.hasRef(c, ref) {
					s.attempts++
					r.send(context.Background(), c, body)
				}
			}
		}
}

// hasRef reports whether the connection got an answer carrying ref.
func (r *crashRoom) hasRef(c *crashConn, ref string) bool {
	for _, f := range c.frames {
		if f.Ref == ref {
			return true
		}
	}
	return false
}

// answered records a problem unless the connection's last frame is of the
// type that answers its request.
func (r *crashRoom) answered(c *crashConn, typ string) {
	if n := len(c.frames); n == 0 || c.frames[n-1].Type != typ {
		r.problem("answers", "%s was not answered with %s after its retry (frames %v)", c, typ, types(c.frames))
	}
}

func (r *crashRoom) problem(invariant, format string, args ...any) {
	r.problems = append(r.problems, violation{invariant, fmt.Sprintf(format, args...)})
}

// signedOutFrames sends a frame from each of alices but the laptop that is
// still open after a sign-out everywhere: each must be refused signed_out
// and closed, and nothing stored.
func (r *crashRoom) signedOutFrames(alices []*crashConn, laptop *crashConn) {
	const text = "after signing out everywhere"
	for _, c := range alices {
		if c == laptop || slices.Contains(r.h.GW.Closed(), c.id) {
			continue
		}
		r.h.Invoke(context.Background(), c.id, contract.RouteSendPublic, `{"action":"sendPublic","message":"`+text+`"}`, nil)
		if got := r.h.GW.Take(c.id); len(got) == 0 || decode(r.t, got[0]).Code != contract.CodeSignedOut {
			r.problem("signout", "%s's frame after the sign-out was answered %s, want %s", c, got, contract.CodeSignedOut)
		}
	}
	recs, _, err := r.h.Store.History(context.Background(), crashRoomName, "", 50)
	if err != nil {
		r.problem("signout", "read the history: %v", err)
	}
	if slices.ContainsFunc(recs, func(m chat.Record) bool { return m.Message == text }) {
		r.problem("signout", "a signed-out device's message was stored")
	}
}
