package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/groupchat/groupchat/contract"
)

// EMFWriter returns a writer for the handler's metrics output: every line
// in CloudWatch's embedded metric format becomes samples of its metrics,
// one series per dimension set of its directives (CloudWatch extracts them
// the same way from the function's log). The Stage dimension is the
// resource's own and is left out. A sample is stamped with the store's
// clock when the line arrives: the handler writes it as its invocation
// ends, the moment its _aws.Timestamp names.
func (s *Store) EMFWriter() *EMFWriter { return &EMFWriter{store: s} }

// EMFWriter is safe for concurrent use; each Write may hold any part of a
// line.
type EMFWriter struct {
	store *Store
	mu    sync.Mutex
	buf   []byte
	// Errors counts lines that were not EMF.
	errors int
}

func (w *EMFWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := w.buf[:i]
		if len(bytes.TrimSpace(line)) > 0 {
			if err := w.store.putEMF(line); err != nil {
				w.errors++
			}
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

type emfLine struct {
	AWS struct {
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name string }
		}
	} `json:"_aws"`
}

func (s *Store) putEMF(line []byte) error {
	var l emfLine
	if err := json.Unmarshal(line, &l); err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return err
	}
	if len(l.AWS.CloudWatchMetrics) == 0 {
		return fmt.Errorf("not an EMF line")
	}
	now := s.now()
	for _, d := range l.AWS.CloudWatchMetrics {
		for _, set := range d.Dimensions {
			dims := map[string]string{}
			for _, name := range set {
				if name == contract.MetricDimensionStage {
					continue
				}
				var v string
				if err := json.Unmarshal(fields[name], &v); err != nil {
					return fmt.Errorf("dimension %s: %w", name, err)
				}
				dims[name] = v
			}
			for _, m := range d.Metrics {
				for _, v := range numbers(fields[m.Name]) {
					s.PutAt(d.Namespace, m.Name, dims, v, now)
				}
			}
		}
	}
	return nil
}

// numbers reads an EMF value: a number or an array of numbers.
func numbers(raw json.RawMessage) []float64 {
	var one float64
	if json.Unmarshal(raw, &one) == nil {
		return []float64{one}
	}
	var many []float64
	_ = json.Unmarshal(raw, &many)
	return many
}
