// Package bench holds the benchmarks behind docs/benchmarks.md that need
// more than one package: broadcast latency through the local stack with
// real WebSocket clients, the bounded fan-out pool against a sequential one
// under AWS-like management API latency, and the DynamoDB items one
// broadcast reads. scripts/bench.sh runs them; each reports its figures with
// b.ReportMetric.
package bench
