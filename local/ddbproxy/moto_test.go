package ddbproxy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit"
	"github.com/groupchat/groupchat/lambda/dynamo"
)

// The proxy's TransactWriteItems checked against a second implementation of
// DynamoDB's API: moto's server (pinned, installed by scripts/moto.sh). The
// same requests go to both and must get the same error type and the same
// cancellation reason codes. Where moto differs from AWS's documentation
// the proxy follows AWS, and the case says so:
//
//   - moto applies a transaction again when its ClientRequestToken repeats,
//     and accepts the token with other actions; DynamoDB answers success
//     without applying it, or IdempotentParameterMismatchException.
//   - moto runs one request at a time and so never has a transaction in
//     flight for another to conflict with: conflicts are checked against
//     AWS's documentation only (conflict_test.go).
//
// Without moto the test is skipped, saying why; in CI (CI=true) it fails.
func TestTransactionsAnswerAsMotoDoes(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 3*time.Minute)
	moto := startMoto(ctx, t)
	fx := newFixture(t, AWSLike())
	names := dynamo.Names{Connections: fx.conns, Messages: fx.messages}
	if err := dynamo.CreateTables(ctx, moto, names); err != nil {
		t.Fatalf("create the tables in moto: %v", err)
	}
	both := func(put func(db *dynamodb.Client)) {
		put(moto)
		put(fx.direct)
	}
	both(func(db *dynamodb.Client) {
		for _, pk := range []string{"a", "c"} {
			if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fx.conns), Item: key(pk)}); err != nil {
				t.Fatal(err)
			}
		}
	})
	many := make([]types.TransactWriteItem, 101)
	for i := range many {
		many[i] = txAdd(fx.conns, fmt.Sprintf("item-%d", i))
	}
	check := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(fx.conns), Key: key("b"),
		ConditionExpression: aws.String("attribute_exists(pk)")}}
	for _, tc := range []struct {
		name    string
		actions []types.TransactWriteItem
		code    string   // the error's type, "" for success
		reasons []string // the cancellation reasons' codes
	}{
		{"101 actions", many, "ValidationException", nil},
		{"two actions on one item", []types.TransactWriteItem{txAdd(fx.conns, "x"), txCreate(fx.conns, "x")}, "ValidationException", nil},
		{"two failing conditions", []types.TransactWriteItem{txCreate(fx.conns, "a"), txAdd(fx.conns, "b"), txCreate(fx.conns, "c")},
			"TransactionCanceledException", []string{"ConditionalCheckFailed", "None", "ConditionalCheckFailed"}},
		{"a failing condition check", []types.TransactWriteItem{txAdd(fx.conns, "d"), check, txAdd(fx.conns, "e")},
			"TransactionCanceledException", []string{"None", "ConditionalCheckFailed", "None"}},
		{"no failing condition", []types.TransactWriteItem{txAdd(fx.conns, "f"), txCreate(fx.conns, "g")}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &dynamodb.TransactWriteItemsInput{TransactItems: tc.actions}
			_, motoErr := moto.TransactWriteItems(ctx, in)
			_, proxyErr := fx.via.TransactWriteItems(ctx, in)
			if got, want := errorCode(proxyErr), errorCode(motoErr); got != want || got != tc.code {
				t.Errorf("the proxy answered %v, moto %v; want %q from both", proxyErr, motoErr, tc.code)
			}
			if got, want := reasonCodes(proxyErr), reasonCodes(motoErr); !slices.Equal(got, want) || !slices.Equal(got, tc.reasons) {
				t.Errorf("cancellation reasons: the proxy %v, moto %v; want %v", got, want, tc.reasons)
			}
		})
	}

	t.Run("two actions on one item, the message", func(t *testing.T) {
		in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{txAdd(fx.conns, "y"), txCreate(fx.conns, "y")}}
		_, motoErr := moto.TransactWriteItems(ctx, in)
		_, proxyErr := fx.via.TransactWriteItems(ctx, in)
		const text = "Transaction request cannot include multiple operations on one item"
		if !strings.Contains(fmt.Sprint(motoErr), text) || !strings.Contains(fmt.Sprint(proxyErr), text) {
			t.Errorf("the proxy answered %v, moto %v; want both to say %q", proxyErr, motoErr, text)
		}
	})

	t.Run("a consistent index Query", func(t *testing.T) {
		in := &dynamodb.QueryInput{TableName: aws.String(fx.conns), IndexName: aws.String(contract.RoomIndex),
			KeyConditionExpression:    aws.String("#room = :room"),
			ExpressionAttributeNames:  map[string]string{"#room": contract.ConnRoom},
			ExpressionAttributeValues: map[string]types.AttributeValue{":room": s("lobby")},
			ConsistentRead:            aws.Bool(true)}
		_, motoErr := moto.Query(ctx, in)
		_, proxyErr := fx.via.Query(ctx, in)
		if errorCode(motoErr) != "ValidationException" || errorCode(proxyErr) != "ValidationException" {
			t.Errorf("the proxy answered %v, moto %v; want ValidationException from both", proxyErr, motoErr)
		}
	})

	// AWS, not moto: a repeated token is success without a second write.
	t.Run("a repeated ClientRequestToken", func(t *testing.T) {
		in := &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String("moto-token"),
			TransactItems: []types.TransactWriteItem{txAdd(fx.conns, "counted")}}
		counts := map[string]string{}
		for name, db := range map[string]*dynamodb.Client{"moto": moto, "proxy": fx.via} {
			for range 2 {
				if _, err := db.TransactWriteItems(ctx, in); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(fx.conns), Key: key("counted"), ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			if n, ok := out.Item["n"].(*types.AttributeValueMemberN); ok {
				counts[name] = n.Value
			}
		}
		if counts["proxy"] != "1" {
			t.Errorf("the proxy applied a repeated token again: n = %s; want 1, as AWS documents", counts["proxy"])
		}
		t.Logf("after the same transaction twice with one token: the proxy n = %s (AWS: 1), moto n = %s", counts["proxy"], counts["moto"])
	})
}

// startMoto installs (scripts/moto.sh) and starts moto's server on a free
// loopback port for the test and returns a client of it.
func startMoto(ctx context.Context, t *testing.T) *dynamodb.Client {
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
			return db
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
