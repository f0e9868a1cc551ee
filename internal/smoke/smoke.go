// Package smoke tells an operator that a deployed stage works, as a person
// would find it: two accounts sign in to the stage's user pool, connect to
// its WebSocket URL, exchange a public and a private message that each
// arrive exactly once and nowhere else, a client without a token is turned
// away, and the page at FrontendURL is configured with this WebSocket URL.
// Temporary accounts are deleted afterwards, also when a step fails. Every
// step is reported with its time. `make smoke ENV=…` (cmd/smoke) runs it
// against a deployed stack; the tests run it against the local stack.
package smoke

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// Target is what the smoke test checks: the stack's outputs.
type Target struct {
	// WSURL is the stage's wss:// URL (output WebSocketURL).
	WSURL string
	// FrontendURL is the page's https:// address (output FrontendURL);
	// config.json is read next to it.
	FrontendURL string
	// UserPoolID and ClientID are the outputs UserPoolId and
	// UserPoolClientId.
	UserPoolID, ClientID string
}

// Config configures Run. Target and Cognito are required.
type Config struct {
	Target  Target
	Cognito Cognito
	// Accounts are two existing accounts to sign in as; they are neither
	// made nor deleted. Default: two temporary accounts.
	Accounts []Account
	// Room is the room the clients meet in. Default: smoke-<run id>, a new
	// one, so nobody's conversation sees the test's messages.
	Room string
	// StepTimeout bounds each step. Default 30s.
	StepTimeout time.Duration
	// Quiet is how long no frame may arrive before the test counts the
	// copies of each message (a late duplicate or leak arrives in it).
	// Default 1s.
	Quiet time.Duration
	// PageWait is how long the page check waits for config.json to name
	// the WebSocket URL (a build the deploy just started), asking every
	// 10 s (or every quarter of PageWait). Default 0: it must already.
	PageWait time.Duration
	// Out receives one line per step. Default: discarded.
	Out io.Writer
	// HTTP fetches config.json. Default: a client with a 10 s timeout.
	HTTP *http.Client
}

// Step is one step's outcome.
type Step struct {
	Name string
	Took time.Duration
	Err  error
}

// Run runs every step and returns them; the error joins the failed steps'.
// The page check runs whatever the chat's steps did, and the temporary
// accounts are deleted whenever they were made.
func Run(ctx context.Context, cfg Config) ([]Step, error) {
	r, err := newRun(cfg)
	if err != nil {
		return nil, err
	}
	defer r.closeClients()
	// Also after Ctrl-C or a step's panic: nothing may outlive the run.
	deleted := false
	deleteAccounts := func() {
		if r.created && !deleted {
			deleted = true
			r.step(context.WithoutCancel(ctx), "delete the temporary accounts", r.deleteAccounts)
		}
	}
	defer deleteAccounts()
	r.chat(ctx)
	r.stepFor(ctx, r.cfg.StepTimeout+r.cfg.PageWait, "the page's config.json names this WebSocket URL", r.waitForPage)
	deleteAccounts()
	var errs []error
	for _, s := range r.steps {
		if s.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name, s.Err))
		}
	}
	return r.steps, errors.Join(errs...)
}

type run struct {
	cfg      Config
	id       string
	steps    []Step
	accounts []Account
	created  bool // the accounts are temporary ones this run made (some may have failed)
	tokens   []string
	clients  []*client
}

func newRun(cfg Config) (*run, error) {
	t := cfg.Target
	if t.WSURL == "" || t.FrontendURL == "" || t.UserPoolID == "" || t.ClientID == "" {
		return nil, fmt.Errorf("smoke: the target needs the WebSocket URL, the FrontendURL, the user pool id and its client id, got %+v", t)
	}
	if cfg.Cognito == nil {
		return nil, errors.New("smoke: no Cognito client")
	}
	if cfg.Accounts != nil && len(cfg.Accounts) != 2 {
		return nil, fmt.Errorf("smoke: want two accounts, got %d", len(cfg.Accounts))
	}
	buf := make([]byte, 4)
	if _, err := rand.Read(buf); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, id: hex.EncodeToString(buf)}
	if r.cfg.Room == "" {
		r.cfg.Room = "smoke-" + r.id
	}
	if r.cfg.StepTimeout <= 0 {
		r.cfg.StepTimeout = 30 * time.Second
	}
	if r.cfg.Quiet <= 0 {
		r.cfg.Quiet = time.Second
	}
	if r.cfg.Out == nil {
		r.cfg.Out = io.Discard
	}
	if r.cfg.HTTP == nil {
		r.cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	return r, nil
}

// step runs fn with the step timeout, records and prints it, and says
// whether it passed.
func (r *run) step(ctx context.Context, name string, fn func(context.Context) error) bool {
	return r.stepFor(ctx, r.cfg.StepTimeout, name, fn)
}

func (r *run) stepFor(ctx context.Context, timeout time.Duration, name string, fn func(context.Context) error) bool {
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	err := fn(sctx)
	s := Step{Name: name, Took: time.Since(start), Err: err}
	r.steps = append(r.steps, s)
	status := "ok  "
	if err != nil {
		status = "FAIL"
	}
	fmt.Fprintf(r.cfg.Out, "%s %6.2fs  %s\n", status, s.Took.Seconds(), name)
	if err != nil {
		fmt.Fprintf(r.cfg.Out, "             %s\n", strings.ReplaceAll(err.Error(), "\n", "\n             "))
	}
	return err == nil
}

// chat runs the chat's steps in order, stopping at the first that fails.
func (r *run) chat(ctx context.Context) {
	if r.cfg.Accounts != nil {
		r.accounts = r.cfg.Accounts
	} else if !r.step(ctx, "create two temporary accounts", r.createAccounts) {
		return
	}
	_ = r.step(ctx, "sign both accounts in", r.signIn) &&
		r.step(ctx, "connect both to "+r.cfg.Room, r.connect) &&
		r.step(ctx, "a client without a token is refused", func(ctx context.Context) error {
			return refused(ctx, r.cfg.Target.WSURL, r.cfg.Room)
		}) &&
		r.step(ctx, "a public message reaches both", r.public) &&
		r.step(ctx, "a private message reaches its recipient and its sender only", r.private) &&
		r.step(ctx, "every message arrived exactly once", r.once)
}

func (r *run) createAccounts(ctx context.Context) error {
	accounts, err := temporaryAccounts(r.id)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		r.created = true // a failed create may still have made it
		r.accounts = append(r.accounts, a)
		if err := createAccount(ctx, r.cfg.Cognito, r.cfg.Target.UserPoolID, a); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) deleteAccounts(ctx context.Context) error {
	var errs []error
	for _, a := range r.accounts {
		errs = append(errs, deleteAccount(ctx, r.cfg.Cognito, r.cfg.Target.UserPoolID, a.Username))
	}
	return errors.Join(errs...)
}

func (r *run) signIn(ctx context.Context) error {
	t := r.cfg.Target
	flow, secret, err := signInFlow(ctx, r.cfg.Cognito, t.UserPoolID, t.ClientID)
	if err != nil {
		return err
	}
	for _, a := range r.accounts {
		tok, err := signIn(ctx, r.cfg.Cognito, t.UserPoolID, t.ClientID, secret, flow, a)
		if err != nil {
			return err
		}
		r.tokens = append(r.tokens, tok)
	}
	return nil
}

// connect opens both clients, each with its hello answered, and waits until
// the room's member list has both (a broadcast sent before may miss one).
func (r *run) connect(ctx context.Context) error {
	var names []string
	for i, a := range r.accounts {
		c, err := dial(ctx, r.cfg.Target.WSURL, r.cfg.Room, a.Username, r.tokens[i])
		if err != nil {
			return fmt.Errorf("%s connects: %w", a.Username, err)
		}
		r.clients = append(r.clients, c)
		st, err := c.hello(ctx)
		if err != nil {
			return err
		}
		c.name = st.You // the account's name in the chat
		names = append(names, st.You)
	}
	return r.clients[0].waitForMembers(ctx, names, 200*time.Millisecond)
}

func (r *run) closeClients() {
	for _, c := range r.clients {
		c.close()
	}
}

// The three messages, each found in every copy by its text.
func (r *run) text(what string) string { return "smoke " + r.id + " " + what }

func (r *run) public(ctx context.Context) error {
	a := r.clients[0]
	msg := r.text("public")
	if err := a.send(ctx, map[string]string{"action": contract.ActionSendPublic, "message": msg, "ref": "p1"}); err != nil {
		return err
	}
	for _, c := range r.clients {
		if _, err := c.waitFor(ctx, "public message", r.is(contract.FramePublic, msg)); err != nil {
			return err
		}
	}
	return nil
}

// private has the first account write to the second, then the second to
// itself: the first must see its own message and never the second's.
func (r *run) private(ctx context.Context) error {
	a, b := r.clients[0], r.clients[1]
	toB, toSelf := r.text("private to b"), r.text("private to self")
	if err := a.send(ctx, map[string]any{"action": contract.ActionSendPrivate, "to": []string{b.name}, "message": toB, "ref": "q1"}); err != nil {
		return err
	}
	for _, c := range r.clients {
		if _, err := c.waitFor(ctx, "private message to "+b.name, r.is(contract.FramePrivate, toB)); err != nil {
			return err
		}
	}
	if err := b.send(ctx, map[string]any{"action": contract.ActionSendPrivate, "to": []string{b.name}, "message": toSelf, "ref": "q2"}); err != nil {
		return err
	}
	_, err := b.waitFor(ctx, "private message to self", r.is(contract.FramePrivate, toSelf))
	return err
}

// once waits for the clients to fall quiet, then counts every copy: each
// message exactly once at each client it is for, and nowhere else.
func (r *run) once(ctx context.Context) error {
	a, b := r.clients[0], r.clients[1]
	quiet(ctx, r.cfg.Quiet, a, b)
	want := []struct {
		c     *client
		typ   string
		text  string
		count int
	}{
		{a, contract.FramePublic, r.text("public"), 1}, {b, contract.FramePublic, r.text("public"), 1},
		{a, contract.FramePrivate, r.text("private to b"), 1}, {b, contract.FramePrivate, r.text("private to b"), 1},
		{b, contract.FramePrivate, r.text("private to self"), 1}, {a, contract.FramePrivate, r.text("private to self"), 0},
	}
	var errs []error
	for _, w := range want {
		if n := w.c.count(r.is(w.typ, w.text)); n != w.count {
			errs = append(errs, fmt.Errorf("%s received %q %d times, want %d", w.c.name, w.text, n, w.count))
		}
	}
	for _, c := range r.clients {
		if n := c.count(func(f frame) bool { return f.Type == contract.FrameError }); n > 0 {
			errs = append(errs, fmt.Errorf("%s received %d error frames", c.name, n))
		}
	}
	return errors.Join(errs...)
}

func (r *run) is(typ, text string) func(frame) bool {
	return func(f frame) bool { return f.Type == typ && f.Message == text }
}
