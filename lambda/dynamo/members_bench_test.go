package dynamo

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/groupchat/groupchat/contract"
)

// BenchmarkMembers is a broadcast's read of a room of 10,000 (Members: the
// room index's partition, decoded by the SDK into members), from an answer
// served at once: the CPU a sender spends before it can hand out a single
// fan-out shard (docs/design.md, Fan-out shards). Each item has what the
// index projects of a signed-in connection (contract.Connections).
func BenchmarkMembers(b *testing.B) {
	const room = 10000
	var sb strings.Builder
	sb.WriteString(`{"Count":10000,"ScannedCount":10000,"Items":[`)
	expires := time.Now().Add(2 * time.Hour).Unix()
	for i := range room {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{%q:{"S":"conn#C%015d="},%q:{"S":"C%015d="},%q:{"S":"lobby"},%q:{"S":"member%d"},%q:{"N":"%d"},%q:{"S":"b7c1e0a4-5a1d-4f3e-9c2b-%012d"},%q:{"N":"%d"}}`,
			contract.ConnPK, i, contract.ConnID, i, contract.ConnRoom, contract.RoomIndexName, i, contract.ConnExpiresAt, expires,
			contract.ConnUsername, i, contract.ConnAuthExpiresAt, expires)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
	s := New(db, Names{Connections: "Connections"}, nil)
	b.ReportAllocs()
	for b.Loop() {
		ms, err := s.Members(context.Background(), "lobby")
		if err != nil || len(ms) != room {
			b.Fatalf("%d members, %v", len(ms), err)
		}
	}
	b.ReportMetric(float64(len(body)), "answer-bytes")
}
