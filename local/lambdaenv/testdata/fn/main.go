// Command fn is the test function of package lambdaenv: it answers with its
// process id and how many events this process has handled, waits at a gate
// the test opens, blocks past its deadline, ends its process, panics, or
// fails its init, as asked.
package main

import (
	"context"
	"errors"
	"net/http"
	"os"
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

// cpuTime is the CPU time this process has spent, user and system, as the
// kernel counts it for getrusage: a second measure beside the service's.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
