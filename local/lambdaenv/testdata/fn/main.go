// Command fn is the test function of package lambdaenv: it answers with its
// process id and how many events this process has handled, waits at a gate
// the test opens, blocks past its deadline, ends its process, panics, or
// fails its init, as asked. With FN_NEXT_DELAY_MS set its runtime asks for
// each event after the first that much later, as one held back by its CPU
// quota once it has answered.
package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/groupchat/groupchat/lambda/runtimeapi"
)

type event struct {
	Gate  string `json:"gate"`  // GET this URL before answering
	Block bool   `json:"block"` // never answer
	Fail  string `json:"fail"`  // answer with this error
	Spin  int    `json:"spin"`  // run on a CPU until this process has spent this many ms there
	Sleep int    `json:"sleep"` // wait this many ms without running
	Exit  bool   `json:"exit"`  // then end the process instead of answering
	Panic bool   `json:"panic"` // panic: aws-lambda-go reports it, then ends the process
}

type answer struct {
	PID       int    `json:"pid"`
	Count     int    `json:"count"`
	RequestID string `json:"requestId"`
	Deadline  int64  `json:"deadline"`
	Env       string `json:"env"`
	CPU       int64  `json:"cpu"` // ns of CPU this process spent in the handler (getrusage)
}

var count int // this process's events: what a warm environment keeps

func main() {
	if msg := os.Getenv("FN_INIT_ERROR"); msg != "" {
		_ = runtimeapi.ReportInitError(os.Getenv(runtimeapi.EnvRuntimeAPI), "Fn.InitError", errors.New(msg))
		os.Exit(1)
	}
	if ms, _ := strconv.Atoi(os.Getenv("FN_NEXT_DELAY_MS")); ms > 0 {
		slowNext(time.Duration(ms) * time.Millisecond)
	}
	lambda.Start(func(ctx context.Context, ev event) (answer, error) {
		count++
		if ev.Fail != "" {
			return answer{}, errors.New(ev.Fail)
		}
		if ev.Panic {
			panic("asked to")
		}
		if ev.Block {
			<-make(chan struct{})
		}
		start := cpuTime()
		for cpuTime()-start < time.Duration(ev.Spin)*time.Millisecond {
			for range 100_000 {
				sink++
			}
		}
		time.Sleep(time.Duration(ev.Sleep) * time.Millisecond)
		if ev.Exit {
			os.Exit(3)
		}
		if ev.Gate != "" {
			resp, err := http.Get(ev.Gate)
			if err != nil {
				return answer{}, err
			}
			_ = resp.Body.Close()
		}
		lc, _ := lambdacontext.FromContext(ctx)
		dl, _ := ctx.Deadline()
		return answer{PID: os.Getpid(), Count: count, RequestID: lc.AwsRequestID, Deadline: dl.UnixMilli(), Env: os.Getenv("FN_SETTING"), CPU: int64(cpuTime() - start)}, nil
	})
}

var sink int

// slowNext has the runtime reach the Runtime API through a proxy that holds
// each request for the next event after the first for delay.
func slowNext(delay time.Duration) {
	api := os.Getenv(runtimeapi.EnvRuntimeAPI)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: api})
	var asked atomic.Bool
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/invocation/next") && asked.Swap(true) {
				time.Sleep(delay)
			}
			proxy.ServeHTTP(w, r)
		}))
	}()
	_ = os.Setenv(runtimeapi.EnvRuntimeAPI, ln.Addr().String())
}

// cpuTime is the CPU time this process has spent, user and system, as the
// kernel counts it for getrusage: a second measure beside the service's.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
