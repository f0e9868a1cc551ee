package chat

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/groupchat/groupchat/contract"
)

// counter is one of the invocation's counted metrics; counterNames gives
// each its CloudWatch name (contract). Every recipient of a fan-out (sizes)
// is counted once: delivered, failed, or one of the four outcomes of a 410
// Gone (stale, connecting, removed, left); see contract.MetricFanoutSize.
type counter int

const (
	countAccepted       counter = iota // actions done, per route
	countDelivered                     // frames delivered
	countFailed                        // deliveries failed or not sent by the deadline
	countStaleRemoved                  // 410, removed by this invocation
	countGoneConnecting                // 410 within the stale grace: kept
	countGoneRemoved                   // 410, the record already removed elsewhere
	countStaleLeft                     // 410, removal not done
	countInternal                      // actions answered with the internal error
	countRateLimited                   // frames refused with rate_limited
	countSignUpsRefused                // sign-ups the Pre sign-up trigger refused
	countShards                        // fan-out shards handed to other environments
	countShardErrors                   // shards whose invoke failed: delivered by the invoking function
	counters                           // how many there are
)

// counterNames are the counters' metric names, in the order the line
// lists them (accepted apart: its dimensions differ).
var counterNames = [counters]string{
	countDelivered:      contract.MetricDeliveries,
	countFailed:         contract.MetricFailedDeliveries,
	countStaleRemoved:   contract.MetricStaleRemoved,
	countGoneConnecting: contract.MetricGoneWhileConnecting,
	countGoneRemoved:    contract.MetricGoneAlreadyRemoved,
	countStaleLeft:      contract.MetricStaleLeft,
	countInternal:       contract.MetricInternalErrors,
	countRateLimited:    contract.MetricRateLimited,
	countSignUpsRefused: contract.MetricSignUpsRefused,
	countShards:         contract.MetricFanoutShards,
	countShardErrors:    contract.MetricShardInvokeErrors,
	countAccepted:       contract.MetricMessagesAccepted,
}

// recorder collects one invocation's metrics and writes them as a single
// CloudWatch embedded-metric-format line, so metrics cost no API call. Its
// methods are safe for concurrent use (the fan-out's pool counts).
type recorder struct {
	mu        sync.Mutex
	stage     string
	route     string
	counts    [counters]int
	refused   AuthReason // a connection refused at the handshake: AuthFailures
	sizes     []float64
	durations []float64
}

// count adds n to a counter.
func (r *recorder) count(c counter, n int) {
	r.mu.Lock()
	r.counts[c] += n
	r.mu.Unlock()
}

// refuse records that the connection was refused at the handshake.
func (r *recorder) refuse(reason AuthReason) {
	r.mu.Lock()
	r.refused = reason
	r.mu.Unlock()
}

// fanout records one fan-out's size and duration.
func (r *recorder) fanout(size int, d time.Duration) {
	r.mu.Lock()
	r.sizes = append(r.sizes, float64(size))
	r.durations = append(r.durations, float64(d.Microseconds())/1000)
	r.mu.Unlock()
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

// rfc3339Millis is RFC 3339 with milliseconds, the precision of _aws.Timestamp.
const rfc3339Millis = "2006-01-02T15:04:05.000Z07:00"

// flush writes the EMF line; it writes nothing when nothing was recorded.
func (r *recorder) flush(w io.Writer, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := map[string]any{contract.MetricDimensionStage: r.stage}
	var stageMetrics []emfMetric
	count := func(name string, v int) {
		if v > 0 {
			line[name] = v
			stageMetrics = append(stageMetrics, emfMetric{name, "Count"})
		}
	}
	for c := range counters {
		if c != countAccepted {
			count(counterNames[c], r.counts[c])
		}
	}
	if len(r.sizes) > 0 {
		line[contract.MetricFanoutSize] = r.sizes
		line[contract.MetricFanoutDuration] = r.durations
		stageMetrics = append(stageMetrics,
			emfMetric{contract.MetricFanoutSize, "Count"},
			emfMetric{contract.MetricFanoutDuration, "Milliseconds"})
	}
	var directives []emfDirective
	if len(stageMetrics) > 0 {
		directives = append(directives, emfDirective{contract.MetricNamespace,
			[][]string{{contract.MetricDimensionStage}}, stageMetrics})
	}
	if n := r.counts[countAccepted]; n > 0 {
		line[contract.MetricDimensionRoute] = r.route
		line[contract.MetricMessagesAccepted] = n
		directives = append(directives, emfDirective{contract.MetricNamespace,
			[][]string{{contract.MetricDimensionStage, contract.MetricDimensionRoute}},
			[]emfMetric{{contract.MetricMessagesAccepted, "Count"}}})
	}
	if r.refused != "" {
		line[contract.MetricDimensionReason] = r.refused
		line[contract.MetricAuthFailures] = 1
		directives = append(directives, emfDirective{contract.MetricNamespace,
			[][]string{{contract.MetricDimensionStage, contract.MetricDimensionReason}},
			[]emfMetric{{contract.MetricAuthFailures, "Count"}}})
	}
	if len(directives) == 0 {
		return nil
	}
	line["_aws"] = map[string]any{"Timestamp": now.UnixMilli(), "CloudWatchMetrics": directives}
	// A level and a time Lambda can read, so that no application log level
	// filters the line out (contract.MetricLogLevel).
	line["level"] = contract.MetricLogLevel
	line["timestamp"] = now.UTC().Format(rfc3339Millis)
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
