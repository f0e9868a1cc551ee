package localtest

import (
	"testing"

	"github.com/groupchat/groupchat/local"
	"github.com/groupchat/groupchat/local/ddbproxy"
)

// TestAStackATestStartsAnswersAsAWSUnlessItSaysWhy: every whole stack a
// test or benchmark starts (cmd/local, internal/faults, internal/load,
// internal/bench…) has its DynamoDB answer as AWS does (issue 21): the
// index and eventually consistent reads lag, transactions conflict, and
// the faults a test sets go on top; only an opt-out with its reason runs
// kinder. Before, a stack started with no faults ran a transparent proxy.
func TestAStackATestStartsAnswersAsAWSUnlessItSaysWhy(t *testing.T) {
	aws := ddbproxy.AWSLike()
	for _, c := range []struct {
		name   string
		faults ddbproxy.Faults
		want   ddbproxy.Faults
	}{
		{"no faults: AWS-like", ddbproxy.Faults{}, aws},
		{"a test's own faults: on top of AWS-like", ddbproxy.Faults{IndexLag: aws.IndexLag * 3},
			ddbproxy.Faults{IndexLag: aws.IndexLag * 3, StaleReads: aws.StaleReads, TransactionConflicts: true}},
		{"an opt-out: kinder, with its reason", ddbproxy.Deterministic("this guard checks the opt-out"),
			ddbproxy.Faults{Deterministic: "this guard checks the opt-out"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Start(t, local.Options{DynamoDB: c.faults})
			got := s.DynamoDBProxy.Defaults()
			if got.IndexLag != c.want.IndexLag || got.StaleReads != c.want.StaleReads ||
				got.TransactionConflicts != c.want.TransactionConflicts || got.Deterministic != c.want.Deterministic {
				t.Errorf("the stack's DynamoDB answers with index lag %v, stale reads %v, conflicts %v (opt-out %q); "+
					"want %v, %v, %v (%q)", got.IndexLag, got.StaleReads, got.TransactionConflicts, got.Deterministic,
					c.want.IndexLag, c.want.StaleReads, c.want.TransactionConflicts, c.want.Deterministic)
			}
		})
	}
}
