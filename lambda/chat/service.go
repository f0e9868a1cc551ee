// Package chat is GroupChat's logic: what each WebSocket route does. It knows
// storage and delivery only through the Store and Poster interfaces, so the
// same code runs in Lambda, in the local stack and in tests.
package chat

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
)

// Service handles API Gateway WebSocket events.
type Service struct {
	store    Store
	poster   Poster
	opt      Options
	refusals *refusals // rate-limit refusals this instance knows of
}

// New returns a Service with opt's defaults filled in.
func New(store Store, poster Poster, opt Options) *Service {
	return &Service{store: store, poster: poster, opt: opt.WithDefaults(), refusals: &refusals{}}
}

// invocation is the state of one event being handled.
type invocation struct {
	*Service
	connID string
	route  string
	log    *slog.Logger
	m      *recorder
	// id is the signed-in account of the connection, from the authorizer's
	// context API Gateway passes with every event (zero with sign-in off).
	id Identity
	// action is the frame's action, once the frame is dispatched: its Cost
	// is what the frame draws from the person's budget (charged).
	action contract.Action
}

// begin starts handling one event; end writes its metrics.
func (s *Service) begin(ctx context.Context, rc events.APIGatewayWebsocketProxyRequestContext) *invocation {
	return &invocation{
		Service: s,
		connID:  rc.ConnectionID,
		route:   rc.RouteKey,
		log:     slog.New(boundHandler{s.opt.Logger.Handler(), ctx}).With("route", rc.RouteKey, "connectionId", rc.ConnectionID),
		m:       &recorder{stage: rc.Stage, route: rc.RouteKey},
	}
}

func (inv *invocation) end() {
	if err := inv.m.flush(inv.opt.Metrics, inv.opt.Now()); err != nil {
		inv.log.Warn("write metrics", "error", err)
	}
}

// Handle is the handler for every route's event (Invoke also answers the
// $connect authorizer).
func (s *Service) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := req.RequestContext
	inv := s.begin(ctx, rc)
	defer inv.end()
	ctx = withDeadlineMargin(ctx, s.opt.DeadlineMargin, s.opt.DeadlineClock)

	switch rc.RouteKey {
	case contract.RouteConnect:
		id, ok := identityFrom(rc.Authorizer)
		if s.opt.Verifier == nil {
			id = Identity{} // sign-in is off: no authorizer, no account
		} else if !ok {
			// The authorizer allowed this connection, or was never asked.
			inv.log.Error("$connect without the authorizer's context while sign-in is on: is the authorizer attached to $connect?")
			inv.m.refuse(AuthNoContext)
			return events.APIGatewayProxyResponse{StatusCode: 401}, nil
		}
		return inv.connect(ctx, req.QueryStringParameters, id), nil
	case contract.RouteDisconnect:
		inv.disconnect(ctx)
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	if s.opt.Verifier != nil {
		inv.id, _ = identityFrom(rc.Authorizer)
	}
	reply := inv.message(ctx, req.Body)
	route, ok := contract.LookupRoute(rc.RouteKey)
	if !ok {
		inv.log.Error("event for a route the API does not have")
	}
	if route.TwoWay {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: string(reply)}, nil
	}
	if reply != nil {
		inv.reply(ctx, reply)
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

// message handles a frame on any message route and returns the reply for the
// caller, if any. The API has already picked the route by the frame's
// action; the frame is decoded again here to read its fields.
func (inv *invocation) message(ctx context.Context, body string) []byte {
	req, p := parseRequest(body)
	if p != nil {
		return inv.fail(req, p)
	}
	// A custom route is its action; on any other route the frame's action
	// counts only when it is one of $default's (a frame whose "Action" the
	// decoder read as "sendPrivate" came through $default: unknown).
	a, ok := contract.LookupAction(inv.route)
	if !ok || !a.CustomRoute() {
		a, ok = contract.LookupAction(req.Action)
		ok = ok && !a.CustomRoute()
	}
	if !ok {
		return inv.fail(req, problem(contract.CodeUnknownAction,
			"Unknown action; valid actions are %s.", strings.Join(validActions(), ", ")))
	}
	inv.action = a
	return handlers[a.Name](inv, ctx, req)
}

// handlers is the dispatch table: one handler for each action of
// contract.Actions, and nothing else (TestTheHandlerAcceptsExactlyTheDefinedActions).
var handlers = map[string]func(*invocation, context.Context, request) []byte{
	contract.ActionHello:       (*invocation).hello,
	contract.ActionPing:        (*invocation).ping,
	contract.ActionMembers:     (*invocation).members,
	contract.ActionSetName:     (*invocation).setName,
	contract.ActionSendPublic:  (*invocation).sendPublic,
	contract.ActionSendPrivate: (*invocation).sendPrivate,
}

// ping is answered with the room's count: a ping draws from the budget
// like any action (its reads are the count's), but a connection the
// server does not know is answered a pong without a count, not an error,
// and so is a ping whose charge failed (storage down): a ping is always
// answered, and only a person over the budget is refused.
func (inv *invocation) ping(ctx context.Context, req request) []byte {
	c, known, _, err := inv.draw(ctx)
	var limited *RateLimited
	switch {
	case errors.As(err, &limited):
		return inv.chargeFailed(req, inv.opt.Now(), min(max(inv.action.Cost, 1), inv.opt.RateLimit.Limit), err)
	case err != nil:
		inv.log.Warn("count a ping against the budget", "error", err)
		inv.m.count(countAccepted, 1)
		return encode(pongFrame{Type: KindPong, TS: millis(inv.opt.Now())})
	}
	inv.m.count(countAccepted, 1)
	if inv.id.AccountID != "" {
		return inv.pong(ctx)
	}
	return inv.pongIn(ctx, c, known)
}

// validActions lists the actions in the definition's order.
func validActions() []string {
	var names []string
	for _, a := range contract.Actions() {
		names = append(names, a.Name)
	}
	return names
}

// fail turns a problem into the error frame for the caller. The action is
// repeated cut like a name (an unknown one can be as long as the frame).
func (inv *invocation) fail(req request, p *Problem) []byte {
	action := echo(req.Action, NameMax, NameMaxBytes)
	inv.log.Info("rejected", "code", p.Code, "action", action)
	return encode(errorFrame{Type: KindError, Problem: *p, Action: action, Ref: req.Ref})
}

// internal logs a server-side failure and returns the error frame for it.
// Internal error text never reaches the client.
func (inv *invocation) internal(req request, doing string, err error) []byte {
	inv.log.Error(doing, "error", err)
	inv.m.count(countInternal, 1)
	return encode(errorFrame{Type: KindError, Action: echo(req.Action, NameMax, NameMaxBytes), Ref: req.Ref,
		Problem: Problem{Code: contract.CodeInternal, Message: "The server could not do that just now; please try again."}})
}

var notConnected = &Problem{Code: contract.CodeNotConnected, Message: "This connection is no longer known to the server; please reconnect."}

// caller loads the caller's record, or returns the error frame to send;
// a is the caller's account as the charge read it (signed in). A signed-in
// connection without a record was let in by a $connect that refused it:
// the account's connects or devices say why.
func (inv *invocation) caller(ctx context.Context, req request, a Account) (Connection, []byte) {
	c, err := inv.store.GetConnection(ctx, inv.connID)
	if errors.Is(err, ErrNotFound) {
		if inv.id.AccountID != "" {
			if p := inv.connectsFull(a); p != nil {
				return c, inv.fail(req, p)
			}
			if p := inv.devicesFull(a); p != nil {
				return c, inv.fail(req, p)
			}
		}
		return c, inv.fail(req, notConnected)
	}
	if err != nil {
		return c, inv.internal(req, "load connection", err)
	}
	return c, nil
}

// release gives up a name's claim if this connection still holds it, and
// returns the connection a resume handed it to, if any.
func (inv *invocation) release(ctx context.Context, room, name, connID string) string {
	resumedBy, err := inv.store.ReleaseName(ctx, room, name, connID)
	if err != nil {
		inv.log.Warn("release name", "holder", connID, "error", err)
	}
	return resumedBy
}
