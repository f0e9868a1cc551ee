// Package cognito runs the repository's pinned cognito-local, the Cognito
// user pool API on Node.js, on a free loopback port, with a user pool, an app
// client and test accounts ready: a real token issuer for the local stack and
// its tests, without an AWS account. Its signing key is fixed and public
// (shipped in the npm package): no deployed verifier may ever trust its
// issuer.
package cognito

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/local/internal/nodepkg"
)

//go:embed serve.js
var serveJS string

// Names of what Start creates (and finds again in a kept Dir).
const (
	PoolName   = "groupchat-local"
	ClientName = "groupchat-local-page"
	// Region is the region part of cognito-local's pool ids (local_xxxxxxxx),
	// which clients such as Amplify read the region from.
	Region = "local"
)

// User is an account of the local user pool.
type User struct {
	Username, Password string
	// Groups are the pool's groups the account is put in (the ID token's
	// cognito:groups).
	Groups []string
}

// TestUsers are the accounts every local issuer has, with permanent
// passwords. They are fixed and written in docs/local.md: they open a local
// stack only, whose issuer nothing deployed trusts.
var TestUsers = []User{
	{"alice", "alice-local-Passw0rd", nil},
	{"bob", "bob-local-Passw0rd", nil},
	{"carol", "carol-local-Passw0rd", nil},
	// mod is a moderator: a member of the pool's moderators group, as an
	// operator makes someone one on AWS (docs/auth.md).
	{"mod", "mod-local-Passw0rd", []string{contract.ModeratorsGroup}},
}

// Options configure Start.
type Options struct {
	// Dir keeps cognito-local's data (.cognito/: the pool, its client and
	// users) across restarts; Start finds the pool and client it made
	// before. Default "": a temporary directory, removed by Stop.
	Dir string
	// Port is the loopback port to listen on. Default 0: a free port.
	Port int
	// Root is the directory whose node_modules holds cognito-local.
	// Default: the nearest directory above the working directory that has
	// it.
	Root string
	// Log receives cognito-local's output once it listens (what it writes
	// before is in Start's error if it fails). Default: discarded.
	Log io.Writer
	// StartTimeout bounds the wait for cognito-local to listen and for the
	// pool, client and users to be made. Default 30s.
	StartTimeout time.Duration
	// Users are the accounts made (or whose password is set again) on
	// start. Default: TestUsers; empty (not nil): none.
	Users []User
	// Triggers, when set, has cognito-local invoke the user pool's
	// triggers as functions of a Lambda API (local/lambdainvoke).
	Triggers *Triggers
	// IDTokenValidity is how long the ID and access tokens it issues last.
	// Default contract.IDTokenValidity, the deployed app client's; tests
	// of what happens at an expiry set seconds (cognito-local takes any
	// number of seconds, Cognito 5 minutes at least).
	IDTokenValidity time.Duration
}

// Triggers names the Lambda API cognito-local invokes triggers through
// and the function of each trigger ("": none).
type Triggers struct {
	LambdaEndpoint string // http://127.0.0.1:PORT
	PreSignUp      string // the function's name
}

// Server is a running cognito-local with its user pool and app client.
type Server struct {
	// UserPoolID is the pool's id (local_xxxxxxxx); ClientID its app
	// client's, which allows USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH and
	// has no secret.
	UserPoolID, ClientID string

	idValidity time.Duration // Options.IDTokenValidity

	api      *cip.Client
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	endpoint string
	tempDir  string // removed by Stop
	exited   chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// ErrNotInstalled means node_modules/cognito-local was not found.
var ErrNotInstalled = nodepkg.ErrNotInstalled

// Start launches cognito-local, waits until it listens, and makes the user
// pool, the app client and the users.
func Start(ctx context.Context, opts Options) (_ *Server, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("start cognito-local: %w", err)
		}
	}()
	root, err := nodepkg.Root(opts.Root, "cognito-local")
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("node (Node.js 20 or later) is required: %w", err)
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("port %d is out of range", opts.Port)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Users == nil {
		opts.Users = TestUsers
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	s := &Server{exited: make(chan struct{}), idValidity: opts.IDTokenValidity}
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "cognito-local-"); err != nil {
			return nil, err
		}
		s.tempDir = dir
	}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	if err := os.MkdirAll(filepath.Join(dir, ".cognito"), 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	// A free port is picked here, then listened on by the child: another
	// process may take it in between, and then the child is started again
	// on another one.
	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		err = s.launch(ctx, root, dir, port, opts.Log, opts.Triggers)
		if err == nil || opts.Port != 0 || attempt == 3 || !errors.Is(err, errAddrInUse) {
			break
		}
		s.exited = make(chan struct{})
	}
	if err != nil {
		return nil, err
	}
	s.api = cip.NewFromConfig(aws.Config{
		Region:      "us-east-1", // any valid one: the endpoint is given
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, func(o *cip.Options) { o.BaseEndpoint = aws.String(s.endpoint) })
	if err := s.setUp(ctx, opts.Users); err != nil {
		return nil, err
	}
	return s, nil
}

var errAddrInUse = errors.New("address in use")

// config is .cognito/config.json. Tokens name IssuerDomain/<poolId> as
// their issuer, which must be exactly the issuer the verifier expects: the
// endpoint the function and the page reach. UsernameAttributes [] makes
// usernames plain names (cognito-local's default wants email addresses).
// TriggerFunctions and LambdaClient (an aws-sdk Lambda client's options)
// name the triggers' functions and where to invoke them.
type config struct {
	TokenConfig      struct{ IssuerDomain string }
	UserPoolDefaults struct{ UsernameAttributes []string }
	TriggerFunctions map[string]string `json:",omitempty"`
	LambdaClient     *lambdaClient     `json:",omitempty"`
}

type lambdaClient struct {
	Endpoint string `json:"endpoint"`
}

// launch writes the configuration for port and starts the child, returning
// once it listens.
func (s *Server) launch(ctx context.Context, root, dir string, port int, logTo io.Writer, triggers *Triggers) error {
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	var cfg config
	cfg.TokenConfig.IssuerDomain = endpoint
	cfg.UserPoolDefaults.UsernameAttributes = []string{}
	if triggers != nil && triggers.PreSignUp != "" {
		cfg.TriggerFunctions = map[string]string{"PreSignUp": triggers.PreSignUp}
		cfg.LambdaClient = &lambdaClient{Endpoint: triggers.LambdaEndpoint}
	}
	data, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, ".cognito", "config.json"), data, 0o644); err != nil {
		return fmt.Errorf("write its configuration: %w", err)
	}

	cmd := exec.Command("node", "-e", serveJS)
	cmd.Dir = dir // cognito-local keeps .cognito/ in its working directory
	cmd.Env = append(os.Environ(),
		"NODE_PATH="+filepath.Join(root, "node_modules"),
		"HOST=127.0.0.1",
		"PORT="+strconv.Itoa(port),
		"NO_COLOR=1",
		"AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE=1",
	)
	// A process group of its own, as dynalite: Ctrl-C in a terminal must
	// not stop it before the local stack's graceful shutdown. It ends when
	// Stop closes stdin, or when the parent dies and the pipe closes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout // one pipe, one order: a reason to fail comes after the banner
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.stdin = cmd, stdin
	listening := make(chan struct{})
	var early bytes.Buffer // the output before it listens, for an error
	var earlyMu sync.Mutex
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		ready := false
		for sc.Scan() {
			line := sc.Text()
			if ready {
				fmt.Fprintln(logTo, "cognito-local:", line)
				continue
			}
			earlyMu.Lock()
			if early.Len() < 16<<10 {
				early.WriteString(line + "\n")
			}
			earlyMu.Unlock()
			if strings.Contains(line, "Cognito Local running on") {
				ready = true
				close(listening)
			}
		}
	}()
	exited := s.exited
	go func() { <-scanned; _ = cmd.Wait(); close(exited) }()

	select {
	case <-listening:
		s.endpoint = endpoint
		return nil
	case <-exited:
		earlyMu.Lock()
		output := strings.TrimSpace(early.String())
		earlyMu.Unlock()
		if strings.Contains(output, "EADDRINUSE") {
			return fmt.Errorf("port %d: %w", port, errAddrInUse)
		}
		return fmt.Errorf("exited before listening (%v): %s", cmd.ProcessState, output)
	case <-ctx.Done():
		return fmt.Errorf("not listening on port %d: %w", port, ctx.Err())
	}
}

// setUp makes the pool, its app client and the users, or finds the pool and
// client a kept Dir has.
func (s *Server) setUp(ctx context.Context, users []User) error {
	pools, err := s.api.ListUserPools(ctx, &cip.ListUserPoolsInput{MaxResults: aws.Int32(60)})
	if err != nil {
		return fmt.Errorf("list user pools: %w", err)
	}
	for _, p := range pools.UserPools {
		if aws.ToString(p.Name) == PoolName {
			s.UserPoolID = aws.ToString(p.Id)
		}
	}
	if s.UserPoolID == "" {
		out, err := s.api.CreateUserPool(ctx, &cip.CreateUserPoolInput{PoolName: aws.String(PoolName)})
		if err != nil {
			return fmt.Errorf("create the user pool: %w", err)
		}
		s.UserPoolID = aws.ToString(out.UserPool.Id)
	}

	clients, err := s.api.ListUserPoolClients(ctx, &cip.ListUserPoolClientsInput{UserPoolId: aws.String(s.UserPoolID), MaxResults: aws.Int32(60)})
	if err != nil {
		return fmt.Errorf("list app clients: %w", err)
	}
	for _, c := range clients.UserPoolClients {
		if aws.ToString(c.ClientName) == ClientName {
			s.ClientID = aws.ToString(c.ClientId)
		}
	}
	// USER_SRP_AUTH, what a deployed page may use, is not implemented by
	// cognito-local: locally the page signs in with the password flow.
	flows := []types.ExplicitAuthFlowsType{
		types.ExplicitAuthFlowsTypeAllowUserPasswordAuth,
		types.ExplicitAuthFlowsTypeAllowRefreshTokenAuth,
	}
	// The deployed app client's token lifetimes (contract): cognito-local's
	// default is 24 hours for every token.
	idValidity := int32(contract.IDTokenValidity / time.Minute)
	idUnit := types.TimeUnitsTypeMinutes
	if v := s.idValidity; v > 0 {
		idValidity, idUnit = int32(v/time.Second), types.TimeUnitsTypeSeconds
	}
	refreshDays := int32(contract.RefreshTokenValidity / (24 * time.Hour))
	units := &types.TokenValidityUnitsType{
		IdToken: idUnit, AccessToken: idUnit, RefreshToken: types.TimeUnitsTypeDays,
	}
	if s.ClientID == "" {
		out, err := s.api.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
			UserPoolId:           aws.String(s.UserPoolID),
			ClientName:           aws.String(ClientName),
			ExplicitAuthFlows:    flows,
			IdTokenValidity:      aws.Int32(idValidity),
			AccessTokenValidity:  aws.Int32(idValidity),
			RefreshTokenValidity: refreshDays,
			TokenValidityUnits:   units,
		})
		if err != nil {
			return fmt.Errorf("create the app client: %w", err)
		}
		s.ClientID = aws.ToString(out.UserPoolClient.ClientId)
	} else {
		// A client kept in Dir from before may have other lifetimes.
		_, err := s.api.UpdateUserPoolClient(ctx, &cip.UpdateUserPoolClientInput{
			UserPoolId:           aws.String(s.UserPoolID),
			ClientId:             aws.String(s.ClientID),
			ClientName:           aws.String(ClientName),
			ExplicitAuthFlows:    flows,
			IdTokenValidity:      aws.Int32(idValidity),
			AccessTokenValidity:  aws.Int32(idValidity),
			RefreshTokenValidity: refreshDays,
			TokenValidityUnits:   units,
		})
		if err != nil {
			return fmt.Errorf("update the app client: %w", err)
		}
	}

	// The stack's groups (infra/stack/auth.go).
	_, err = s.api.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: aws.String(s.UserPoolID), GroupName: aws.String(contract.ModeratorsGroup)})
	var exists *types.GroupExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create the %s group: %w", contract.ModeratorsGroup, err)
	}
	return s.CreateUsers(ctx, users)
}

// Endpoint is the Cognito API's base URL, http://127.0.0.1:PORT: an SDK
// client's BaseEndpoint, Amplify's userPoolEndpoint.
func (s *Server) Endpoint() string { return s.endpoint }

// Issuer is the iss of the pool's tokens, http://127.0.0.1:PORT/<poolId>
// (on AWS: https://cognito-idp.<region>.amazonaws.com/<poolId>).
func (s *Server) Issuer() string { return s.endpoint + "/" + s.UserPoolID }

// JWKSURL is where the pool's public keys are, as on AWS:
// <issuer>/.well-known/jwks.json. (cognito-local's discovery document names
// localhost:9229 whatever its address, so a verifier is given this URL, not
// discovery.)
func (s *Server) JWKSURL() string { return s.Issuer() + "/.well-known/jwks.json" }

// Stop ends the process, waits for it (at most 5 s before killing it) and
// removes the temporary data directory. Later calls return the first
// call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	var errs []error
	if s.cmd != nil {
		_ = s.stdin.Close()
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				errs = append(errs, fmt.Errorf("stop cognito-local: %w", err))
			}
			<-s.exited
		}
	}
	if s.tempDir != "" {
		if err := os.RemoveAll(s.tempDir); err != nil {
			errs = append(errs, fmt.Errorf("stop cognito-local: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Done is closed when the process has exited.
func (s *Server) Done() <-chan struct{} { return s.exited }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
