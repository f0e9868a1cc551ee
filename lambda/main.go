// Command lambda is the GroupChat function: one handler for all six
// WebSocket routes and, with sign-in on, the $connect authorizer and the
// user pool's Pre sign-up trigger. It only wires: configuration from the
// environment and the sign-in parameter it names (an invalid one reported
// to Lambda as the init error), clients built once at init, then
// lambda.Start.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/runtimeapi"
	"github.com/groupchat/groupchat/lambda/wire"
)

// initTimeout bounds the one call init makes (SSM's GetParameter for the
// sign-in settings); Lambda's init phase has 10 s.
const initTimeout = 5 * time.Second

func main() {
	logger := lambdacontext.NewLogger()
	awsCfg := lambdaAWSConfig()
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	getenv, err := wire.WithAuthParameter(ctx, wire.SSMParameters{Config: awsCfg}, os.Getenv)
	cancel()
	var cfg wire.Config
	if err == nil {
		cfg, err = wire.ConfigFromEnv(getenv)
	}
	if err != nil {
		// Reported as the init error, the reason reaches the console, not
		// only the logs (Runtime.ExitError says nothing of it).
		logger.Error("invalid configuration", "error", err)
		if err := runtimeapi.ReportInitError(os.Getenv(runtimeapi.EnvRuntimeAPI), runtimeapi.ErrorTypeInvalidConfiguration, err); err != nil {
			logger.Error("report the init error to Lambda", "error", err)
		}
		os.Exit(1)
	}
	svc := wire.New(cfg, awsCfg, chat.Options{Logger: logger})
	lambda.Start(svc.Invoke) // tells the authorizer's and the trigger's events from a route's
}

// lambdaAWSConfig reads the region and the execution role's credentials that
// Lambda puts in every function's environment. The SDK's general loader
// (config.LoadDefaultConfig) would also link the SSO, STS and IMDS clients,
// which a function never uses, and push the binary past 10 MB.
func lambdaAWSConfig() aws.Config {
	return aws.Config{
		Region: os.Getenv("AWS_REGION"),
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
			os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))),
	}
}
