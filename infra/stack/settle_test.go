package stack

import (
	"strings"
	"testing"
)

// TestTheSettleQueueInvokesTheFunctionInBoundedBatches: the settle queue
// (docs/design.md, The page converges) is encrypted, refuses requests
// without TLS, hides a delivered message longer than the function may
// run, moves a message failed 5 times to its dead-letter queue (whose
// depth alarms), and invokes the function with at most 10 records,
// reporting failed records one by one.
func TestTheSettleQueueInvokesTheFunctionInBoundedBatches(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		queue, dlq := s.logicalID(cfnOf(s.stack.Settle.Queue)), s.logicalID(cfnOf(s.stack.Settle.DeadLetters))
		q := props(s.resources("AWS::SQS::Queue")[queue])
		if q["SqsManagedSseEnabled"] != true || q["VisibilityTimeout"].(float64) < timeoutSeconds {
			t.Errorf("settle queue: %v", q)
		}
		redrive, _ := q["RedrivePolicy"].(map[string]any)
		if !sameJSON(redrive, map[string]any{"deadLetterTargetArn": map[string]any{"Fn::GetAtt": []any{dlq, "Arn"}},
			"maxReceiveCount": float64(settleMaxReceives)}) {
			t.Errorf("settle queue's redrive policy: %v", redrive)
		}
		if d := props(s.resources("AWS::SQS::Queue")[dlq]); d["SqsManagedSseEnabled"] != true {
			t.Errorf("dead-letter queue: %v", d)
		}
		mappings := s.resources("AWS::Lambda::EventSourceMapping")
		if len(mappings) != 1 {
			t.Fatalf("%d event source mappings, want 1", len(mappings))
		}
		for _, m := range mappings {
			p := props(m)
			delete(p, "Tags") // the stack's, on every resource
			want := map[string]any{"EventSourceArn": map[string]any{"Fn::GetAtt": []any{queue, "Arn"}},
				"FunctionName": ref(s.logicalID(cfnOf(s.stack.Compute.Function))), "BatchSize": float64(settleBatchSize),
				"FunctionResponseTypes": []any{"ReportBatchItemFailures"}}
			if !sameJSON(p, want) {
				t.Errorf("event source mapping %s, want %s", asJSON(p), asJSON(want))
			}
		}
		found := false
		for _, a := range s.resources("AWS::CloudWatch::Alarm") {
			p := props(a)
			if p["Namespace"] == "AWS/SQS" {
				found = sameJSON(p["Dimensions"], []any{map[string]any{"Name": "QueueName",
					"Value": map[string]any{"Fn::GetAtt": []any{dlq, "QueueName"}}}})
			}
		}
		if !found {
			t.Error("no alarm on the dead-letter queue's depth")
		}
		for _, p := range s.resources("AWS::SQS::QueuePolicy") {
			if !sameJSON(props(p)["Queues"], []any{ref(queue)}) && !sameJSON(props(p)["Queues"], []any{ref(dlq)}) {
				continue
			}
			if st := asJSON(props(p)["PolicyDocument"]); !strings.Contains(st, `"aws:SecureTransport":"false"`) {
				t.Errorf("queue policy does not refuse requests without TLS: %s", st)
			}
		}
	})
}
