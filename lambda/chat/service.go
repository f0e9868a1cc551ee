// Package chat is GroupChat's logic: what each WebSocket route does. It knows
// storage and delivery only through the Store and Poster interfaces, so the
// same code runs in Lambda, in the local stack and in tests.
package chat

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/oklog/ulid/v2"

	"github.com/groupchat/groupchat/contract"
)

// Options tune a Service. The zero value of every field means its default.
type Options struct {
	// PoolSize bounds concurrent deliveries of one broadcast. Default 32.
	PoolSize int
	// PostTimeout bounds one delivery. Default 3s.
	PostTimeout time.Duration
	// DeadlineMargin is kept free before the invocation's deadline to finish
	// cleanly after a fan-out. Default 500ms.
	DeadlineMargin time.Duration
	// MessageRetention is how long the message log keeps a record. Default 30 days.
	MessageRetention time.Duration
	// StaleGrace is how long a new connection is spared removal on 410: API
	// Gateway answers 410 for a connection whose $connect has not returned
	// yet, and a $connect can take up to the 29 s integration timeout.
	// Default 30s.
	StaleGrace time.Duration
	// ConnectionTTL is how long a connection record lives at most: a little
	// past API Gateway's 2-hour connection limit. Default 2h10m.
	ConnectionTTL time.Duration
	// Logger receives structured logs. Default: slog.Default().
	Logger *slog.Logger
	// Metrics receives one embedded-metric-format line per invocation.
	// Default os.Stdout (where Lambda's log capture reads it).
	Metrics io.Writer
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Service handles API Gateway WebSocket events.
type Service struct {
	store  Store
	poster Poster
	opt    Options
}

// WithDefaults returns the options with every zero field set to its default.
func (opt Options) WithDefaults() Options {
	if opt.PoolSize <= 0 {
		opt.PoolSize = 32
	}
	if opt.PostTimeout <= 0 {
		opt.PostTimeout = 3 * time.Second
	}
	if opt.DeadlineMargin <= 0 {
		opt.DeadlineMargin = 500 * time.Millisecond
	}
	if opt.MessageRetention <= 0 {
		opt.MessageRetention = 30 * 24 * time.Hour
	}
	if opt.StaleGrace <= 0 {
		opt.StaleGrace = 30 * time.Second
	}
	if opt.ConnectionTTL <= 0 {
		opt.ConnectionTTL = 2*time.Hour + 10*time.Minute
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Metrics == nil {
		opt.Metrics = os.Stdout
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return opt
}

// New returns a Service with opt's defaults filled in.
func New(store Store, poster Poster, opt Options) *Service {
	return &Service{store: store, poster: poster, opt: opt.WithDefaults()}
}

// invocation is the state of one event being handled.
type invocation struct {
	*Service
	ctx    context.Context
	connID string
	route  string
	log    *slog.Logger
	m      *recorder
}

// Handle is the Lambda handler for every route.
func (s *Service) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := req.RequestContext
	inv := &invocation{
		Service: s,
		ctx:     ctx,
		connID:  rc.ConnectionID,
		route:   rc.RouteKey,
		log:     slog.New(boundHandler{s.opt.Logger.Handler(), ctx}).With("route", rc.RouteKey, "connectionId", rc.ConnectionID),
		m:       &recorder{stage: rc.Stage, route: rc.RouteKey},
	}
	defer func() {
		if err := inv.m.flush(s.opt.Metrics, s.opt.Now()); err != nil {
			inv.log.Warn("write metrics", "error", err)
		}
	}()

	switch rc.RouteKey {
	case contract.RouteConnect:
		return inv.connect(req.QueryStringParameters), nil
	case contract.RouteDisconnect:
		inv.disconnect()
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	reply := inv.message(req.Body)
	route, ok := contract.LookupRoute(rc.RouteKey)
	if !ok {
		inv.log.Error("event for a route the API does not have")
	}
	if route.TwoWay {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: string(reply)}, nil
	}
	if reply != nil {
		inv.reply(reply)
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

// message handles a frame on any message route and returns the reply for the
// caller, if any. The API has already picked the route by the frame's
// action; the frame is decoded again here to read its fields.
func (inv *invocation) message(body string) []byte {
	req, p := parseRequest(body)
	if p != nil {
		return inv.fail(req, p)
	}
	switch inv.route {
	case contract.RouteSetName:
		return inv.setName(req)
	case contract.RouteSendPublic:
		return inv.sendPublic(req)
	case contract.RouteSendPrivate:
		return inv.sendPrivate(req)
	}
	switch req.Action {
	case ActionPing:
		inv.m.add(&inv.m.accepted, 1)
		return encode(pongFrame{Type: "pong", TS: millis(inv.opt.Now())})
	case ActionHello:
		return inv.hello(req)
	}
	return inv.fail(req, problem(CodeUnknownAction,
		"Unknown action; valid actions are %s.", strings.Join(validActions(), ", ")))
}

func validActions() []string {
	return []string{ActionHello, ActionPing, contract.RouteSetName, contract.RouteSendPublic, contract.RouteSendPrivate}
}

// fail turns a problem into the error frame for the caller.
func (inv *invocation) fail(req request, p *Problem) []byte {
	inv.log.Info("rejected", "code", p.Code, "action", req.Action)
	return encode(errorFrame{Type: "error", Problem: *p, Action: req.Action, Ref: req.Ref})
}

// internal logs a server-side failure and returns the error frame for it.
// Internal error text never reaches the client.
func (inv *invocation) internal(req request, doing string, err error) []byte {
	inv.log.Error(doing, "error", err)
	inv.m.add(&inv.m.internal, 1)
	return encode(errorFrame{Type: "error", Action: req.Action, Ref: req.Ref,
		Problem: Problem{Code: CodeInternal, Message: "The server could not do that just now; please try again."}})
}

var notConnected = &Problem{Code: CodeNotConnected, Message: "This connection is no longer known to the server; please reconnect."}

// caller loads the caller's record, or returns the error frame to send.
func (inv *invocation) caller(req request) (Connection, []byte) {
	c, err := inv.store.GetConnection(inv.ctx, inv.connID)
	if errors.Is(err, ErrNotFound) {
		return c, inv.fail(req, notConnected)
	}
	if err != nil {
		return c, inv.internal(req, "load connection", err)
	}
	return c, nil
}

func (inv *invocation) connect(query map[string]string) events.APIGatewayProxyResponse {
	now := inv.opt.Now()
	room, p := CleanRoom(query["room"])
	if p != nil {
		inv.log.Info("connect refused", "code", p.Code)
		return events.APIGatewayProxyResponse{StatusCode: 400, Body: string(encode(p))}
	}
	c := Connection{ID: inv.connID, Room: room, ConnectedAt: now,
		ExpiresAt: now.Add(inv.opt.ConnectionTTL), ResumeToken: newToken()}
	claim := Claim{Room: room, ConnID: c.ID, Token: c.ResumeToken, Resume: query["resume"], ExpiresAt: c.ExpiresAt}

	// The requested name if it is valid and free; otherwise a guest name
	// and a warning that says why.
	var previous string
	var err error
	requested := query["name"]
	if requested != "" {
		if claim.Name, c.Warning = CleanName(requested); c.Warning == nil {
			previous, err = inv.store.ClaimName(inv.ctx, claim)
			if errors.Is(err, ErrNameTaken) {
				c.Warning = problem(CodeNameTaken, "The name %q is already taken in this room.", claim.Name)
			} else if err != nil {
				inv.log.Error("claim name", "error", err)
				return events.APIGatewayProxyResponse{StatusCode: 500}
			}
		}
	}
	if requested == "" || c.Warning != nil {
		if claim.Name, err = inv.claimGuestName(claim); err != nil {
			inv.log.Error("claim guest name", "error", err)
			return events.APIGatewayProxyResponse{StatusCode: 500}
		}
		if c.Warning != nil {
			c.Warning.Message += fmt.Sprintf(" You are %s.", claim.Name)
		}
	}
	c.Name = claim.Name
	if err := inv.store.PutConnection(inv.ctx, c); err != nil {
		inv.log.Error("record connection", "error", err)
		if previous == "" {
			// A name taken over from a previous connection stays claimed:
			// the client retries with its token, or the claim is orphaned.
			_ = inv.store.ReleaseName(inv.ctx, room, c.Name, c.ID)
		}
		return events.APIGatewayProxyResponse{StatusCode: 500}
	}
	if previous != "" {
		// The same person reconnected before the old connection's record was
		// gone: the old record goes without a "left", the room sees one join.
		if _, _, err := inv.store.DeleteConnection(inv.ctx, previous); err != nil {
			inv.log.Warn("remove replaced connection", "replaced", previous, "error", err)
		}
	}
	inv.m.add(&inv.m.accepted, 1)
	_ = inv.append(&Record{Kind: "joined", Room: room, From: c.Name, ConnID: c.ID})
	inv.log.Info("connected", "room", room)
	// API Gateway does not deliver to a connection before $connect returns,
	// so the newcomer is left out; it asks for its state with hello.
	inv.broadcast(room, encode(presenceFrame{Type: "joined", Room: room, Name: c.Name, TS: millis(now)}),
		"", nil, c.ID, previous)
	return events.APIGatewayProxyResponse{StatusCode: 200}
}

func (inv *invocation) claimGuestName(claim Claim) (string, error) {
	claim.Resume = ""
	var err error
	for range 8 {
		claim.Name = fmt.Sprintf("guest-%04d", mrand.IntN(10000))
		if _, err = inv.store.ClaimName(inv.ctx, claim); !errors.Is(err, ErrNameTaken) {
			return claim.Name, err
		}
	}
	return "", fmt.Errorf("no free guest name after 8 tries: %w", err)
}

func (inv *invocation) disconnect() {
	c, ok, err := inv.store.DeleteConnection(inv.ctx, inv.connID)
	if err != nil {
		inv.log.Error("remove connection", "error", err)
		return
	}
	if !ok {
		return // already removed: after a 410 during a broadcast, or replaced by a resume
	}
	// A reconnect with the resume token may have taken the name over before
	// this $disconnect came: then the person has not left.
	if owner, held, err := inv.store.Owner(inv.ctx, c.Room, c.Name); err == nil && held && owner.ConnID != c.ID {
		inv.log.Info("disconnected; name already resumed by a new connection", "room", c.Room)
		return
	}
	if err := inv.store.ReleaseName(inv.ctx, c.Room, c.Name, c.ID); err != nil {
		inv.log.Warn("release name", "error", err)
	}
	inv.m.add(&inv.m.accepted, 1)
	_ = inv.append(&Record{Kind: "left", Room: c.Room, From: c.Name, ConnID: c.ID})
	inv.log.Info("disconnected", "room", c.Room)
	inv.broadcast(c.Room, encode(presenceFrame{Type: "left", Room: c.Room, Name: c.Name, TS: millis(inv.opt.Now())}), "", nil)
}

func (inv *invocation) hello(req request) []byte {
	c, fail := inv.caller(req)
	if fail != nil {
		return fail
	}
	members, err := inv.store.Members(inv.ctx, c.Room)
	if err != nil {
		return inv.internal(req, "list members", err)
	}
	if !slices.ContainsFunc(members, func(m Member) bool { return m.ConnID == c.ID }) {
		// The room index is eventually consistent: a hello right after
		// $connect may not find the caller in it yet.
		members = append(members, Member{ConnID: c.ID, Name: c.Name})
	}
	recs, err := inv.store.History(inv.ctx, c.Room, HistoryLimit)
	if err != nil {
		return inv.internal(req, "read history", err)
	}
	frame := stateFrame{Type: "state", Room: c.Room, You: c.Name, Members: sortedNames(members),
		History: []json.RawMessage{}, Limits: limits, Resume: c.ResumeToken, Warning: c.Warning}
	// The newest messages that fit: the frame stays inside API Gateway's
	// 128 KB message limit however long the messages are.
	budget := StateMaxBytes - len(encode(frame))
	for _, r := range slices.Backward(recs) {
		entry := encode(publicFrame{Type: "public", ID: r.ID, TS: millis(r.TS), Room: r.Room, From: r.From, Message: r.Message})
		if budget -= len(entry) + 1; budget < 0 {
			break
		}
		frame.History = append(frame.History, entry)
	}
	slices.Reverse(frame.History)
	inv.m.add(&inv.m.accepted, 1)
	return encode(frame)
}

func (inv *invocation) setName(req request) []byte {
	name, p := text(req, "name", CleanName)
	if p != nil {
		return inv.fail(req, p)
	}
	c, fail := inv.caller(req)
	if fail != nil {
		return fail
	}
	now := inv.opt.Now()
	frame := renamedFrame{Type: "renamed", Room: c.Room, OldName: c.Name, Name: name, TS: millis(now)}
	if name == c.Name {
		return encode(withRef(frame, req.Ref))
	}
	_, err := inv.store.ClaimName(inv.ctx, Claim{Room: c.Room, Name: name, ConnID: c.ID, Token: c.ResumeToken, ExpiresAt: c.ExpiresAt})
	if errors.Is(err, ErrNameTaken) {
		return inv.fail(req, problem(CodeNameTaken, "The name %q is already taken in this room.", name))
	}
	if err != nil {
		return inv.internal(req, "claim name", err)
	}
	sameName := Fold(name) == Fold(c.Name)
	if err := inv.store.Rename(inv.ctx, c.ID, c.Name, name); err != nil {
		if !sameName {
			_ = inv.store.ReleaseName(inv.ctx, c.Room, name, c.ID)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			return inv.fail(req, notConnected)
		case errors.Is(err, ErrConflict):
			return inv.fail(req, problem(CodeBusy, "Your name was being changed by another request; try again."))
		}
		return inv.internal(req, "rename", err)
	}
	if !sameName {
		if err := inv.store.ReleaseName(inv.ctx, c.Room, c.Name, c.ID); err != nil {
			inv.log.Warn("release old name", "error", err)
		}
	}
	inv.m.add(&inv.m.accepted, 1)
	_ = inv.append(&Record{Kind: "renamed", Room: c.Room, From: name, OldName: c.Name, ConnID: c.ID})
	inv.broadcast(c.Room, encode(frame), c.ID, encode(withRef(frame, req.Ref)))
	return nil
}

func (inv *invocation) sendPublic(req request) []byte {
	msg, p := text(req, "message", cleanMessage)
	if p != nil {
		return inv.fail(req, p)
	}
	c, fail := inv.caller(req)
	if fail != nil {
		return fail
	}
	r := Record{Kind: "public", Room: c.Room, From: c.Name, Message: msg, ConnID: c.ID}
	if err := inv.append(&r); err != nil {
		return inv.internal(req, "record message", err)
	}
	inv.m.add(&inv.m.accepted, 1)
	frame := publicFrame{Type: "public", ID: r.ID, TS: millis(r.TS), Room: r.Room, From: r.From, Message: r.Message}
	inv.broadcast(c.Room, encode(frame), c.ID, encode(withRef(frame, req.Ref)))
	return nil
}

func (inv *invocation) sendPrivate(req request) []byte {
	rawTo, p := field[[]string](req, "to", "a list of names")
	if p != nil {
		return inv.fail(req, p)
	}
	to, unknown, p := cleanRecipients(rawTo)
	if p != nil {
		return inv.fail(req, p)
	}
	msg, p := text(req, "message", cleanMessage)
	if p != nil {
		return inv.fail(req, p)
	}
	c, fail := inv.caller(req)
	if fail != nil {
		return fail
	}
	var recipients []Member
	for _, name := range to {
		m, ok, err := inv.recipient(c.Room, name)
		if err != nil {
			return inv.internal(req, "look up recipient", err)
		}
		if !ok {
			unknown = append(unknown, name)
		} else if !slices.ContainsFunc(recipients, func(r Member) bool { return r.ConnID == m.ConnID }) {
			recipients = append(recipients, m)
		}
	}
	if len(unknown) > 0 {
		p := problem(CodeRecipientsUnknown, "Nobody called %s is in this room.", strings.Join(unknown, ", "))
		p.Unknown = unknown
		return inv.fail(req, p)
	}
	r := Record{Kind: "private", Room: c.Room, From: c.Name, To: names(recipients), Message: msg, ConnID: c.ID}
	if err := inv.append(&r); err != nil {
		return inv.internal(req, "record message", err)
	}
	inv.m.add(&inv.m.accepted, 1)
	frame := privateFrame{Type: "private", ID: r.ID, TS: millis(r.TS), Room: r.Room, From: r.From, To: r.To, Message: r.Message}
	targets := []target{{Member{ConnID: c.ID, Name: c.Name}, encode(withRef(frame, req.Ref))}}
	data := encode(frame)
	for _, m := range recipients {
		if m.ConnID != c.ID {
			targets = append(targets, target{m, data})
		}
	}
	inv.deliver(targets)
	return nil
}

// recipient finds the member called name in room: the claim's holder, if
// its record is live and still carries that name. A private message must
// never reach a connection that holds a stale claim under another name.
func (inv *invocation) recipient(room, name string) (Member, bool, error) {
	m, ok, err := inv.store.Owner(inv.ctx, room, name)
	if err != nil || !ok {
		return Member{}, false, err
	}
	c, err := inv.store.GetConnection(inv.ctx, m.ConnID)
	switch {
	case errors.Is(err, ErrNotFound):
		return Member{}, false, nil
	case err != nil:
		return Member{}, false, err
	case c.Room != room || Fold(c.Name) != Fold(name):
		return Member{}, false, nil
	}
	return Member{ConnID: c.ID, Name: c.Name}, true, nil
}

// append stamps a record (id, time, retention) and adds it to the message
// log. Activity records (joined, left, renamed, gone) have already happened
// when they are recorded: for them a failure is only logged and counted.
func (inv *invocation) append(r *Record) error {
	now := inv.opt.Now().Truncate(time.Millisecond)
	r.ID = ulid.MustNew(ulid.Timestamp(now), ulid.DefaultEntropy()).String()
	r.TS = now
	r.ExpiresAt = now.Add(inv.opt.MessageRetention)
	err := inv.store.Append(inv.ctx, *r)
	if err != nil && r.Kind != "public" && r.Kind != "private" {
		inv.log.Error("record activity", "kind", r.Kind, "error", err)
		inv.m.add(&inv.m.internal, 1)
	}
	return err
}

func names(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// sortedNames lists members' names the way people read a list: ignoring case.
func sortedNames(ms []Member) []string {
	out := names(ms)
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(strings.Compare(Fold(a), Fold(b)), strings.Compare(a, b))
	})
	return out
}

// newToken returns a 128-bit random resume token.
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
