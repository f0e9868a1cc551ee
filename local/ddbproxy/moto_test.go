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
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/internal/testkit"
)

// startMoto installs (scripts/moto.sh) and starts moto's server on a free
// loopback port for the test and returns its endpoint and a client of it.
// Without moto the test is skipped, saying why; in CI (CI=true) it fails.
func startMoto(ctx context.Context, t *testing.T) (string, *dynamodb.Client) {
	t.Helper()
	testkit.Slow(t, "moto's server")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	install := exec.CommandContext(ctx, filepath.Join(root, "scripts", "moto.sh"))
	install.Stderr = &stderr
	out, err := install.Output()
	if err != nil {
		msg := fmt.Sprintf("moto could not be installed (scripts/moto.sh: %v): %s", err, strings.TrimSpace(stderr.String()))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; the comparison with moto did not run")
	}
	server := strings.TrimSpace(string(out))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	_ = ln.Close()
	var log bytes.Buffer
	cmd := exec.Command(server, "-H", "127.0.0.1", "-p", port)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	endpoint := "http://127.0.0.1:" + port
	db := client(endpoint)
	for {
		if _, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}); err == nil {
			return endpoint, db
		}
		select {
		case <-exited:
			t.Fatalf("moto_server exited during start-up: %s", log.String())
		case <-ctx.Done():
			t.Fatalf("moto_server did not answer at %s", endpoint)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
