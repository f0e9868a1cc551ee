// Package chat is GroupChat's logic: what each WebSocket route does. It knows
// storage and delivery only through the Store and Poster interfaces, so the
// same code runs in Lambda, in the local stack and in tests.
package chat

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/groupchat/groupchat/contract"
)

// Store is everything the chat needs from storage: the union of the roles
// the files of this package declare where they use them (nameStore in
// names.go, connectionStore in connection.go, removalStore in removal.go,
// presenceStore in presence.go, accountStore in accounts.go, usernameStore
// in signup.go, deviceStore in devices.go, rateStore in ratelimit.go,
// recordStore in messages.go, moderationStore in moderate.go, editStore
// in edit.go, signInStore
// in reauth.go, deletionStore in deleteaccount.go, sanctionStore in
// sanction.go, settleStore in settle.go). The
// DynamoDB adapter in lambda/dynamo implements it, a file for each role.
type Store interface {
	nameStore
	connectionStore
	removalStore
	presenceStore
	accountStore
	usernameStore
	deviceStore
	rateStore
	recordStore
	moderationStore
	editStore
	signInStore
	deletionStore
	sanctionStore
	settleStore
}

// New returns a Service with opt's defaults filled in.
func New(store Store, poster Poster, opt Options) *Service {
	return &Service{store: store, poster: poster, opt: opt.WithDefaults(), refusals: &refusals{}}
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
		inv.id = id
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
	if len(reply) > 0 { // empty: answered already (endedFrame)
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
	contract.ActionHello:             (*invocation).hello,
	contract.ActionPing:              (*invocation).ping,
	contract.ActionMembers:           (*invocation).members,
	contract.ActionSetName:           (*invocation).setName,
	contract.ActionSendPublic:        (*invocation).sendPublic,
	contract.ActionSendPrivate:       (*invocation).sendPrivate,
	contract.ActionRemove:            (*invocation).remove,
	contract.ActionEdit:              (*invocation).edit,
	contract.ActionHistory:           (*invocation).history,
	contract.ActionTyping:            (*invocation).typing,
	contract.ActionReauth:            (*invocation).reauth,
	contract.ActionSignOutEverywhere: (*invocation).signOutEverywhere,
	contract.ActionDeleteAccount:     (*invocation).deleteAccount,
	contract.ActionMute:              (*invocation).mute,
	contract.ActionUnmute:            (*invocation).unmute,
	contract.ActionKick:              (*invocation).kick,
	contract.ActionBan:               (*invocation).ban,
	contract.ActionUnban:             (*invocation).unban,
}

// ping is answered with the room's count: a ping draws from the budget
// like any action (its reads are the count's), but a connection the
// server does not know is answered a pong without a count, not an error,
// and so is a ping whose charge failed (storage down): a ping is always
// answered, and only a person over the budget is refused.
func (inv *invocation) ping(ctx context.Context, req request) []byte {
	c, known, _, err := inv.draw(ctx)
	var limited *RateLimited
	var ended *signInEnded
	switch {
	case errors.As(err, &limited) || errors.As(err, &ended):
		return inv.chargeFailed(ctx, req, inv.opt.Now(), inv.units(), err)
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
