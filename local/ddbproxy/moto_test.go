package ddbproxy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/internal/testkit"
)

// moto is the test binary's moto server, started by the first test that
// asks for it and stopped by TestMain.
var moto struct {
	once     sync.Once
	endpoint string
	skip     string // why moto could not be installed
	err      error
	cmd      *exec.Cmd
	exited   chan struct{}
	log      bytes.Buffer
}

// startMoto returns the endpoint of the test binary's moto server (pinned,
// installed by scripts/moto.sh) and a client of it, starting it on first
// use; each test makes tables of its own there. Without moto the test is
// skipped, saying why; in CI (CI=true) it fails.
func startMoto(ctx context.Context, t *testing.T) (string, *dynamodb.Client) {
	t.Helper()
	testkit.Slow(t, "moto's server")
	moto.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		moto.skip, moto.err = runMoto(ctx)
	})
	if moto.skip != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(moto.skip)
		}
		t.Skip(moto.skip + "; the comparison with moto did not run")
	}
	if moto.err != nil {
		t.Fatal(moto.err)
	}
	return moto.endpoint, client(moto.endpoint)
}

// runMoto installs and starts moto's server on a free loopback port and
// waits until it answers.
func runMoto(ctx context.Context) (skip string, err error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	install := exec.CommandContext(ctx, filepath.Join(root, "scripts", "moto.sh"))
	install.Stderr = &stderr
	out, err := install.Output()
	if err != nil {
		return fmt.Sprintf("moto could not be installed (scripts/moto.sh: %v): %s", err, strings.TrimSpace(stderr.String())), nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	_ = ln.Close()
	moto.cmd = exec.Command(strings.TrimSpace(string(out)), "-H", "127.0.0.1", "-p", port)
	moto.cmd.Stdout, moto.cmd.Stderr = &moto.log, &moto.log
	if err := moto.cmd.Start(); err != nil {
		return "", fmt.Errorf("start moto_server: %w", err)
	}
	moto.exited = make(chan struct{})
	go func() { _ = moto.cmd.Wait(); close(moto.exited) }()
	moto.endpoint = "http://127.0.0.1:" + port
	db := client(moto.endpoint)
	for {
		if _, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}); err == nil {
			return "", nil
		}
		select {
		case <-moto.exited:
			return "", fmt.Errorf("moto_server exited during start-up: %s", moto.log.String())
		case <-ctx.Done():
			return "", fmt.Errorf("moto_server did not answer at %s", moto.endpoint)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopMoto stops the test binary's moto server, if it runs.
func stopMoto() {
	if moto.cmd != nil && moto.cmd.Process != nil {
		_ = moto.cmd.Process.Kill()
		<-moto.exited
	}
}
