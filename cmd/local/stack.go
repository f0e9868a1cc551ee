package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/dynalite"
	"github.com/groupchat/groupchat/internal/localgw"
	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/lambda/wire"
)

// stackOptions describe one local stack.
type stackOptions struct {
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// Gateway configures the API Gateway stand-in.
	Gateway localgw.Config
	// DynamoDBEndpoint is an existing DynamoDB API to use; empty starts
	// dynalite.
	DynamoDBEndpoint string
	// DataDir keeps dynalite's data on disk; empty keeps it in memory.
	DataDir string
	// Chat tunes the chat service (its logger, metrics, grace periods).
	Chat chat.Options
	// Getenv supplies optional function settings (FANOUT_POOL_SIZE,
	// MESSAGE_RETENTION_DAYS) as on AWS. Default: none.
	Getenv func(string) string
	// Stderr receives dynalite's error output.
	Stderr io.Writer
}

// stack is a running local stack: dynalite, the chat handler and the
// gateway in front of it, on one loopback port.
type stack struct {
	gw       *localgw.Gateway
	srv      *http.Server
	served   chan error
	db       *dynalite.Server // nil when an endpoint was given
	host     string           // 127.0.0.1:PORT
	dynamoDB string

	stopOnce sync.Once
	stopErr  error
}

// localAWS is what the SDK needs to sign requests to local endpoints.
func localAWS() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
}

// startStack starts everything and returns once the gateway is listening.
func startStack(ctx context.Context, o stackOptions) (_ *stack, err error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port)))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &stack{host: ln.Addr().String(), dynamoDB: o.DynamoDBEndpoint, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			_ = ln.Close()
			if s.db != nil {
				_ = s.db.Stop()
			}
		}
	}()
	if s.dynamoDB == "" {
		s.db, err = dynalite.Start(ctx, dynalite.Options{Dir: o.DataDir, Stderr: o.Stderr})
		if err != nil {
			return nil, err
		}
		s.dynamoDB = s.db.Endpoint()
	}

	gwCfg := o.Gateway
	if gwCfg.Stage == "" {
		gwCfg.Stage = localgw.DefaultStage
	}
	// The function's configuration comes through the same variables as on
	// AWS, so the local stack exercises the same parsing.
	env := map[string]string{
		contract.EnvConnectionsTable:   contract.Connections.ID,
		contract.EnvMessagesTable:      contract.Messages.ID,
		contract.EnvManagementEndpoint: "http://" + s.host + "/" + gwCfg.Stage,
		contract.EnvDynamoDBEndpoint:   s.dynamoDB,
	}
	if o.Getenv != nil {
		for _, k := range []string{contract.EnvFanoutPoolSize, contract.EnvMessageRetentionDays} {
			env[k] = o.Getenv(k)
		}
	}
	fnCfg, err := wire.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		return nil, fmt.Errorf("function configuration: %w", err)
	}
	awsCfg := localAWS()
	db := dynamodb.NewFromConfig(awsCfg, func(opt *dynamodb.Options) { opt.BaseEndpoint = aws.String(s.dynamoDB) })
	if err := dynamo.CreateTables(ctx, db, fnCfg.Tables); err != nil {
		return nil, fmt.Errorf("DynamoDB at %s: %w", s.dynamoDB, err)
	}
	svc := wire.New(fnCfg, awsCfg, o.Chat)

	s.gw = localgw.New(svc.Handle, gwCfg)
	s.srv = &http.Server{Handler: s.gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.served <- s.srv.Serve(ln) }()
	return s, nil
}

// wsURL is the WebSocket endpoint; pageURL the page.
func (s *stack) wsURL() string   { return s.gw.WebSocketURL(s.host) }
func (s *stack) pageURL() string { return "http://" + s.host + "/" }

// stop delivers $disconnect for every open connection (the management API
// still answering meanwhile), then closes the listener and stops dynalite.
// Later calls return the first call's result.
func (s *stack) stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.stopAll(ctx) })
	return s.stopErr
}

func (s *stack) stopAll(ctx context.Context) error {
	errGW := s.gw.Shutdown(ctx)
	errHTTP := s.srv.Shutdown(ctx)
	if errors.Is(errHTTP, context.DeadlineExceeded) {
		errHTTP = errors.Join(errHTTP, s.srv.Close())
	}
	var errDB error
	if s.db != nil {
		errDB = s.db.Stop()
	}
	if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
		errHTTP = errors.Join(errHTTP, err)
	}
	return errors.Join(errGW, errHTTP, errDB)
}

// chatLogger writes the chat's own logs as text, warnings and errors only
// unless verbose: the gateway already logs one line per event.
func chatLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func dirExists(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir()
}
