// Command lambda is the GroupChat function: one handler for all six
// WebSocket routes and, with sign-in on, the $connect authorizer. It only
// wires: configuration from the environment (an invalid one reported to
// Lambda as the init error), clients built once at init, then lambda.Start.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/runtimeapi"
	"github.com/groupchat/groupchat/lambda/wire"
)

func main() {
	logger := lambdacontext.NewLogger()
	cfg, err := wire.ConfigFromEnv(os.Getenv)
	if err != nil {
		// Reported as the init error, the reason reaches the console, not
		// only the logs (Runtime.ExitError says nothing of it).
		logger.Error("invalid configuration", "error", err)
		if err := runtimeapi.ReportInitError(os.Getenv(runtimeapi.EnvRuntimeAPI), runtimeapi.ErrorTypeInvalidConfiguration, err); err != nil {
			logger.Error("report the init error to Lambda", "error", err)
		}
		os.Exit(1)
	}
	svc := wire.New(cfg, lambdaAWSConfig(), chat.Options{Logger: logger})
	lambda.Start(svc.Invoke) // tells the authorizer's event from a route's
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
