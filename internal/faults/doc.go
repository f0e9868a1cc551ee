// Package faults holds GroupChat's fault scenarios as tests against the
// in-process local stack (internal/load/localstack) with real WebSocket
// clients (internal/load): clients that vanish without a close frame, a
// management API that fails or stalls, and a DynamoDB that goes away and
// comes back. `go test ./internal/faults` runs the short variants;
// -faults.long runs bigger, longer ones.
package faults
