// Package sqslocal stands in for SQS and for Lambda's SQS event source
// mapping in the local stack: a queue with a dead-letter queue behind it,
// served over SQS's JSON protocol (SendMessage, ReceiveMessage,
// DeleteMessage, the calls the function and the checks make, through the
// real SDK), and a poller that invokes a function with batches of its
// messages as the event source mapping does. As unkind as SQS by default: a
// message now and then is delivered twice (at-least-once), and each
// delivery hides the message for the visibility timeout, after which it
// comes again unless deleted; after MaxReceiveCount deliveries it moves to
// the dead-letter queue. Only Deterministic turns the repeats off.
// moto_test.go checks its answers against moto's SQS.
package sqslocal

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options describe the queue. The zero value is AWS-like.
type Options struct {
	// VisibilityTimeout hides a delivered message until it is deleted or
	// the timeout passes. Default 30 s (SQS's).
	VisibilityTimeout time.Duration
	// MaxReceiveCount: a message delivered that many times and not deleted
	// moves to the dead-letter queue at its next receive. Default 5.
	MaxReceiveCount int
	// BatchSize bounds the records of one invocation (the mapping's
	// BatchSize). Default 10.
	BatchSize int
	// Repeat is how often a message sent is delivered twice. Default 2%.
	Repeat float64
	// DeadLetter, when set, is told the dead-letter queue's depth each time
	// a message moves there (the local metrics' ApproximateNumberOfMessagesVisible).
	DeadLetter func(depth int)
	// Deterministic, when not empty, says why a test needs a queue kinder
	// than SQS: no message is delivered twice.
	Deterministic string
}

func (o Options) withDefaults() Options {
	if o.VisibilityTimeout <= 0 {
		o.VisibilityTimeout = 30 * time.Second
	}
	if o.MaxReceiveCount <= 0 {
		o.MaxReceiveCount = 5
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 10
	}
	if o.Repeat <= 0 {
		o.Repeat = 0.02
	}
	if o.Deterministic != "" {
		o.Repeat = 0
	}
	return o
}

// Deterministic is the opt-out: a queue that delivers each message once
// unless it is not deleted. reason must say why.
func Deterministic(reason string) Options {
	if strings.TrimSpace(reason) == "" {
		panic("sqslocal.Deterministic: say why the test needs the queue kinder than SQS")
	}
	return Options{Deterministic: reason}
}

// Queue names.
const (
	QueueName = "settle"
	DLQName   = "settle-dlq"
	account   = "000000000000"
	region    = "us-east-1"
)

type message struct {
	id, body   string
	sent       time.Time
	visibleAt  time.Time
	receives   int
	receipt    string // of the latest delivery
	firstRecvd time.Time
}

type queue struct {
	msgs []*message
}

// Server is the local SQS endpoint with its two queues.
type Server struct {
	opt      Options
	endpoint string
	srv      *http.Server
	served   chan struct{}

	mu     sync.Mutex
	queues map[string]*queue
	now    func() time.Time

	stop    chan struct{}
	pollers sync.WaitGroup
}

// Start listens on a free loopback port.
func Start(opt Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("local SQS endpoint: %w", err)
	}
	s := &Server{opt: opt.withDefaults(), endpoint: "http://" + ln.Addr().String(), served: make(chan struct{}),
		queues: map[string]*queue{QueueName: {}, DLQName: {}}, now: time.Now, stop: make(chan struct{})}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Endpoint is the SQS API's base URL: an SDK client's endpoint.
func (s *Server) Endpoint() string { return s.endpoint }

// QueueURL is a queue's URL, as SQS shapes it.
func (s *Server) QueueURL(name string) string { return s.endpoint + "/" + account + "/" + name }

// Depth is how many messages a queue holds, visible or not.
func (s *Server) Depth(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queues[name].msgs)
}

// Close stops the pollers (waiting for their invocations) and the server.
func (s *Server) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.pollers.Wait()
	err := s.srv.Close()
	<-s.served
	return err
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// send enqueues body, visible after delay; now and then twice.
func (s *Server) send(name, body string, delay time.Duration) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[name]
	if !ok {
		return "", errNoQueue
	}
	now := s.now()
	m := &message{id: newID(), body: body, sent: now, visibleAt: now.Add(delay)}
	q.msgs = append(q.msgs, m)
	if s.opt.Repeat > 0 && mrand.Float64() < s.opt.Repeat {
		twin := *m
		q.msgs = append(q.msgs, &twin)
	}
	return m.id, nil
}

// Delivery is one message as ReceiveMessage hands it out.
type Delivery struct {
	ID, Body, Receipt string
	Receives          int
	Sent, FirstRecvd  time.Time
}

// receive hands out at most max visible messages, each hidden for
// visibility; one delivered MaxReceiveCount times already moves to the
// dead-letter queue instead (only the settle queue has one).
func (s *Server) receive(name string, maxN int, visibility time.Duration) ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[name]
	if !ok {
		return nil, errNoQueue
	}
	now := s.now()
	var out []Delivery
	kept := q.msgs[:0]
	for _, m := range q.msgs {
		if len(out) >= maxN || m.visibleAt.After(now) {
			kept = append(kept, m)
			continue
		}
		if name == QueueName && m.receives >= s.opt.MaxReceiveCount {
			dlq := s.queues[DLQName]
			m.visibleAt = now
			dlq.msgs = append(dlq.msgs, m)
			if s.opt.DeadLetter != nil {
				s.opt.DeadLetter(len(dlq.msgs))
			}
			continue
		}
		m.receives++
		if m.receives == 1 {
			m.firstRecvd = now
		}
		m.receipt = newID()
		m.visibleAt = now.Add(visibility)
		out = append(out, Delivery{ID: m.id, Body: m.body, Receipt: m.receipt, Receives: m.receives, Sent: m.sent,
			FirstRecvd: m.firstRecvd})
		kept = append(kept, m)
	}
	q.msgs = kept
	return out, nil
}

// remove deletes the message of a receipt; an old receipt (the message
// was delivered again since) deletes nothing, as SQS may.
func (s *Server) remove(name, receipt string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[name]
	if !ok {
		return errNoQueue
	}
	for i, m := range q.msgs {
		if m.receipt == receipt {
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			return nil
		}
	}
	return nil
}

type apiError struct {
	code, msg string
	status    int
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

var errNoQueue = &apiError{"AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.", 400}

// serve answers SQS's JSON protocol (X-Amz-Target: AmazonSQS.<op>).
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	var in struct {
		QueueURL            string `json:"QueueUrl"`
		MessageBody         *string
		DelaySeconds        int
		MaxNumberOfMessages int
		VisibilityTimeout   *int
		ReceiptHandle       string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		answer(w, nil, &apiError{"InvalidParameterValue", "the body is not JSON", 400})
		return
	}
	name := in.QueueURL[strings.LastIndex(in.QueueURL, "/")+1:]
	switch op {
	case "SendMessage":
		if in.MessageBody == nil || *in.MessageBody == "" {
			answer(w, nil, &apiError{"MissingParameter", "The request must contain the parameter MessageBody.", 400})
			return
		}
		if in.DelaySeconds < 0 || in.DelaySeconds > 900 {
			answer(w, nil, &apiError{"InvalidParameterValue", "DelaySeconds must be from 0 to 900.", 400})
			return
		}
		id, err := s.send(name, *in.MessageBody, time.Duration(in.DelaySeconds)*time.Second)
		answer(w, map[string]string{"MessageId": id, "MD5OfMessageBody": md5Hex(*in.MessageBody)}, err)
	case "ReceiveMessage":
		n := in.MaxNumberOfMessages
		if n == 0 {
			n = 1
		}
		if n < 1 || n > 10 {
			answer(w, nil, &apiError{"InvalidParameterValue", "MaxNumberOfMessages must be from 1 to 10.", 400})
			return
		}
		vis := s.opt.VisibilityTimeout
		if in.VisibilityTimeout != nil {
			vis = time.Duration(*in.VisibilityTimeout) * time.Second
		}
		ds, err := s.receive(name, n, vis)
		msgs := make([]map[string]any, 0, len(ds))
		for _, d := range ds {
			msgs = append(msgs, map[string]any{"MessageId": d.ID, "ReceiptHandle": d.Receipt, "Body": d.Body,
				"MD5OfBody": md5Hex(d.Body), "Attributes": attributes(d)})
		}
		out := map[string]any{}
		if len(msgs) > 0 {
			out["Messages"] = msgs
		}
		answer(w, out, err)
	case "DeleteMessage":
		answer(w, map[string]string{}, s.remove(name, in.ReceiptHandle))
	default:
		answer(w, nil, &apiError{"InvalidAction", "The action " + op + " is not valid for this endpoint.", 400})
	}
}

func attributes(d Delivery) map[string]string {
	return map[string]string{
		"ApproximateReceiveCount":          strconv.Itoa(d.Receives),
		"SentTimestamp":                    strconv.FormatInt(d.Sent.UnixMilli(), 10),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(d.FirstRecvd.UnixMilli(), 10),
	}
}

func answer(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if err != nil {
		e, ok := err.(*apiError)
		if !ok {
			e = &apiError{"InternalError", err.Error(), 500}
		}
		w.Header().Set("X-Amzn-Query-Error", e.code+";Sender")
		w.WriteHeader(e.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + e.code, "message": e.msg})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// stopping reports whether the server is stopping.
func (s *Server) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}
