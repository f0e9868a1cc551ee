package faults

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/testkit/localtest"
	"github.com/groupchat/groupchat/lambda/dynamo"
	"github.com/groupchat/groupchat/local"
)

// long selects the longer variants: go test ./internal/faults -faults.long
var long = flag.Bool("faults.long", false, "run the longer variants of the fault scenarios (bigger, longer runs)")

// scale returns short in `go test ./...` and long with -faults.long.
func scale[T any](short, long_ T) T {
	if *long {
		return long_
	}
	return short
}

// startStack starts a stack (capturing its metrics, log and
// invocations); its log is shown when the test fails.
func startStack(t *testing.T, o local.Options) *localtest.Stack {
	t.Helper()
	s := localtest.Start(t, o)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stack log (last 4000 bytes):\n%s", tail(s.Log(), 4000))
			if dir := os.Getenv("FAULTS_LOG_DIR"); dir != "" {
				_ = os.WriteFile(filepath.Join(dir, t.Name()+".log"), []byte(s.Log()), 0o644)
			}
		}
	})
	return s
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// record is one item of the Connections table: a connection (pk c#…), a
// name claim (pk n#…) or a room item (pk r#…, with the room's count).
type record struct {
	PK           string `dynamodbav:"pk"`
	ConnectionID string `dynamodbav:"connectionId"`
	Room         string `dynamodbav:"room"`
	Name         string `dynamodbav:"name"`
	Count        int    `dynamodbav:"count"` // a room item: the room's count (connectionsTable)
}

// connectionsTable reads the whole Connections table through the real
// DynamoDB client (the chat never scans; a test may), and each room's
// count through the store (the room item's and its shards', in Messages):
// again until the records did not change while the counts were read, so
// the two are of one moment.
func connectionsTable(ctx context.Context, t *testing.T, s *localtest.Stack) (conns, claims, rooms []record) {
	t.Helper()
	for range 5 {
		conns, claims, rooms = scanConnections(ctx, t, s)
		for i, r := range rooms {
			n, err := dynamo.New(s.DB, s.Tables, nil).RoomCount(ctx, strings.TrimPrefix(r.PK, contract.RoomItemPrefix))
			if err != nil {
				t.Fatalf("read the count of %s: %v", r.PK, err)
			}
			rooms[i].Count = n
		}
		if again, _, _ := scanConnections(ctx, t, s); len(again) == len(conns) {
			break
		}
	}
	return conns, claims, rooms
}

func scanConnections(ctx context.Context, t *testing.T, s *localtest.Stack) (conns, claims, rooms []record) {
	t.Helper()
	p := dynamodb.NewScanPaginator(s.DB, &dynamodb.ScanInput{TableName: aws.String(s.Tables.Connections)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("scan the Connections table: %v", err)
		}
		var recs []record
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &recs); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			switch {
			case strings.HasPrefix(r.PK, contract.ConnItemPrefix):
				conns = append(conns, r)
			case strings.HasPrefix(r.PK, contract.NameItemPrefix):
				claims = append(claims, r)
			case strings.HasPrefix(r.PK, contract.RoomItemPrefix):
				rooms = append(rooms, r)
			}
		}
	}
	return conns, claims, rooms
}

// metricTotals sums each metric over the EMF lines the chat wrote.
func metricTotals(t *testing.T, emf string) map[string]float64 {
	t.Helper()
	totals := map[string]float64{}
	for line := range strings.Lines(emf) {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("a metrics line is not JSON: %q", line)
		}
		aws, _ := doc["_aws"].(map[string]any)
		directives, _ := aws["CloudWatchMetrics"].([]any)
		for _, d := range directives {
			metrics, _ := d.(map[string]any)["Metrics"].([]any)
			for _, m := range metrics {
				name, _ := m.(map[string]any)["Name"].(string)
				switch v := doc[name].(type) {
				case float64:
					totals[name] += v
				case []any:
					for _, x := range v {
						f, _ := x.(float64)
						totals[name] += f
					}
				}
			}
		}
	}
	return totals
}

// waitIdle waits until the stack has ended at least caused[route]
// invocations of each route (those the test caused, each started or about
// to start) and runs none, so that what the test reads next is the tables
// at rest. An invocation's work goes on after its answer and its
// deliveries arrive (a broadcast's stale removals, the members frame after
// them), and the test reads the table straight from dynalite, where a
// transaction the proxy is applying shows half done.
func waitIdle(ctx context.Context, t *testing.T, s *localtest.Stack, caused map[string]int) {
	t.Helper()
	for {
		// Running first: an invocation that ends after this read is
		// already counted below, one that starts after it is not.
		if s.Running() == 0 && endedAll(s.Invocations(), caused) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the stack did not come to rest (%d invocations running; caused %v): %v", s.Running(), caused, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func endedAll(invs []localtest.Invocation, caused map[string]int) bool {
	ended := map[string]int{}
	for _, inv := range invs {
		ended[inv.Route]++
	}
	for route, n := range caused {
		if ended[route] < n {
			return false
		}
	}
	return true
}
