// Command fn is the test function of package lambdaenv: it answers with its
// process id and how many events this process has handled, waits at a gate
// the test opens, blocks past its deadline, or fails its init, as asked.
package main

import (
	"context"
	"errors"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/groupchat/groupchat/lambda/runtimeapi"
)

type event struct {
	Gate  string `json:"gate"`  // GET this URL before answering
	Block bool   `json:"block"` // never answer
	Fail  string `json:"fail"`  // answer with this error
}

type answer struct {
	PID       int    `json:"pid"`
	Count     int    `json:"count"`
	RequestID string `json:"requestId"`
	Deadline  int64  `json:"deadline"`
	Env       string `json:"env"`
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
		if ev.Block {
			<-make(chan struct{})
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
		return answer{PID: os.Getpid(), Count: count, RequestID: lc.AwsRequestID, Deadline: dl.UnixMilli(), Env: os.Getenv("FN_SETTING")}, nil
	})
}
