// An invocation is the state of one event being handled; every handler is a
// method of it, given the event's ctx, and answers a bad frame with fail
// and a server-side failure with internal.

package chat

import (
	"context"
	"log/slog"
	"time"

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
	// action is the frame's action, once the frame is dispatched: its
	// Price is what the frame draws from the person's budget (charged).
	action contract.Action
	// items is how many items of the action's priced list (Per.Field) the
	// frame carries, set by the handler before it charges: a sendPrivate's
	// distinct valid recipients.
	items int
	// received is when API Gateway received the frame (its
	// requestTimeEpoch; zero when the event has none).
	received time.Time
}

// receivedAt is when the frame was received: API Gateway's time, or now
// when the event has none or it is later than now (two clocks). Frames of
// one socket are received in order, though handled concurrently.
func (inv *invocation) receivedAt() time.Time {
	now := inv.opt.Now()
	if inv.received.IsZero() || inv.received.After(now) {
		return now
	}
	return inv.received
}

// units is what the frame draws from the budget: its action's Price, at
// least 1 and at most the whole budget (a badly configured environment
// still answers).
func (inv *invocation) units() int {
	return min(max(inv.action.Price(inv.items), 1), inv.opt.RateLimit.Limit)
}

// begin starts handling one event; end writes its metrics.
func (s *Service) begin(ctx context.Context, rc events.APIGatewayWebsocketProxyRequestContext) *invocation {
	return &invocation{
		Service: s,
		connID:  rc.ConnectionID,
		route:   rc.RouteKey,
		log:     slog.New(boundHandler{s.opt.Logger.Handler(), ctx}).With("route", rc.RouteKey, "connectionId", rc.ConnectionID),
		m:       &recorder{stage: rc.Stage, route: rc.RouteKey},
		received: func() time.Time {
			if rc.RequestTimeEpoch > 0 {
				return time.UnixMilli(rc.RequestTimeEpoch)
			}
			return time.Time{}
		}(),
	}
}

func (inv *invocation) end() {
	if err := inv.m.flush(inv.opt.Metrics, inv.opt.Now()); err != nil {
		inv.log.Warn("write metrics", "error", err)
	}
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
