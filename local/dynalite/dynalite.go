// Package dynalite runs the repository's pinned dynalite, a DynamoDB-API
// server on Node.js, on a free loopback port: the real DynamoDB API for tests
// and for the local stack, without an AWS account.
package dynalite

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/groupchat/groupchat/local/internal/nodepkg"
)

//go:embed serve.js
var serveJS string

// Options configure Start.
type Options struct {
	// Dir is a directory for an on-disk store that survives restarts.
	// Default "": in memory.
	Dir string
	// Port is the loopback port to listen on; with Dir, a stopped server can
	// be started again at the same endpoint with its tables, as a DynamoDB
	// outage that ends. Default 0: a free port.
	Port int
	// Root is the directory whose node_modules holds dynalite. Default: the
	// nearest directory above the working directory that has it.
	Root string
	// Stderr receives dynalite's error output. Default: os.Stderr.
	Stderr io.Writer
	// StartTimeout bounds the wait for dynalite to listen. Default 30s.
	StartTimeout time.Duration
}

// Server is a running dynalite process.
type Server struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	endpoint string
	exited   chan struct{}
}

// ErrNotInstalled means node_modules/dynalite was not found.
var ErrNotInstalled = nodepkg.ErrNotInstalled

// Start launches dynalite and returns once it accepts connections.
func Start(ctx context.Context, opts Options) (*Server, error) {
	root, err := nodepkg.Root(opts.Root, "dynalite")
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("start dynalite: Node.js is required: %w", err)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	cmd := exec.Command("node", "-e", serveJS)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(root, "node_modules"))
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("start dynalite: data directory: %w", err)
		}
		cmd.Env = append(cmd.Env, "DYNALITE_PATH="+opts.Dir)
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("start dynalite: port %d is out of range", opts.Port)
	}
	cmd.Env = append(cmd.Env, "DYNALITE_PORT="+strconv.Itoa(opts.Port))
	cmd.Stderr = opts.Stderr
	// A process group of its own: Ctrl-C in a terminal signals the whole
	// foreground group, and dynalite must outlive the parent's graceful
	// shutdown (which still writes to it). It ends when Stop closes stdin,
	// or when the parent dies and the pipe closes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	s := &Server{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(s.exited) }()

	timer := time.NewTimer(opts.StartTimeout)
	defer timer.Stop()
	select {
	case p := <-port:
		s.endpoint = "http://127.0.0.1:" + p
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("start dynalite: exited before listening (%v)", cmd.ProcessState)
	case <-timer.C:
		_ = s.Stop()
		return nil, fmt.Errorf("start dynalite: not listening after %s", opts.StartTimeout)
	case <-ctx.Done():
		_ = s.Stop()
		return nil, fmt.Errorf("start dynalite: %w", ctx.Err())
	}
}

// Endpoint is the server's base URL, for the DynamoDB client's BaseEndpoint.
func (s *Server) Endpoint() string { return s.endpoint }

// Stop ends the process and waits for it (at most 5 s before killing it).
func (s *Server) Stop() error {
	_ = s.stdin.Close()
	select {
	case <-s.exited:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop dynalite: %w", err)
	}
	<-s.exited
	return nil
}

// Done is closed when the process has exited.
func (s *Server) Done() <-chan struct{} { return s.exited }
