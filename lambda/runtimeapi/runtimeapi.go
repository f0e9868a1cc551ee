// Package runtimeapi reports a failed initialization to Lambda through the
// Runtime API's initialization error call, which aws-lambda-go does not
// offer: a function that only exits during init surfaces as
// Runtime.ExitError, with its reason left in the logs. Reported, the reason
// is what every invocation returns and what the console shows.
package runtimeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// EnvRuntimeAPI is the variable in which Lambda gives the Runtime API's
// host and port.
const EnvRuntimeAPI = "AWS_LAMBDA_RUNTIME_API"

// ErrorTypeInvalidConfiguration is the error type of a configuration the
// function cannot start with, in the <category.reason> form the Runtime
// API recommends.
const ErrorTypeInvalidConfiguration = "GroupChat.InvalidConfiguration"

// timeout bounds the call: the Runtime API is local to the execution
// environment and answers at once.
const timeout = 2 * time.Second

// ReportInitError posts err as the function's initialization error to the
// Runtime API at api (host:port, EnvRuntimeAPI's value). The caller exits
// right after, as the Runtime API asks. err's text is the message the
// console shows: it must name what is wrong, never carry a secret.
func ReportInitError(api, errorType string, err error) error {
	if api == "" {
		return errors.New(EnvRuntimeAPI + " is not set: not running in Lambda")
	}
	body, jerr := json.Marshal(struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}{err.Error(), errorType})
	if jerr != nil {
		return jerr
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, rerr := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+api+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
	if rerr != nil {
		return fmt.Errorf("report init error: %w", rerr)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	// Never through a proxy: the Runtime API is link-local.
	client := &http.Client{Transport: &http.Transport{}}
	resp, derr := client.Do(req)
	if derr != nil {
		return fmt.Errorf("report init error: %w", derr)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 { // 202 Accepted

		return fmt.Errorf("report init error: the Runtime API answered %s", resp.Status)
	}
	return nil
}
