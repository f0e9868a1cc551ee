// Command lambda is the GroupChat function: one handler for all six
// WebSocket routes. It only wires: configuration from the environment, clients
// built once at init, then lambda.Start.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/groupchat/groupchat/lambda/chat"
	"github.com/groupchat/groupchat/lambda/wire"
)

func main() {
	logger := lambdacontext.NewLogger()
	cfg, err := wire.ConfigFromEnv(os.Getenv)
	if err != nil {
		logger.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	svc := wire.New(cfg, awsCfg, chat.Options{Logger: logger})
	lambda.Start(svc.Handle)
}
