// Command infra is the CDK app: it reads and validates the per-environment
// config in cdk.json, builds one GroupChat stack per environment (checked by
// cdk-nag) and synthesizes them. cdk.json runs it: `go run ./infra`.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/infra/stack"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	raw := app.Node().TryGetContext(jsii.String(stack.ContextKey))
	// Every environment is validated, and checked against the others, even
	// when only one is built: a deploy of one must not take over what
	// another manages.
	cfgs, err := stack.ParseEnvironments(raw)
	if err != nil {
		return err
	}
	// `-c env=NAME` must name a configured environment; it builds only that one.
	if only, ok := app.Node().TryGetContext(jsii.String("env")).(string); ok && only != "" {
		cfg, err := stack.ParseConfig(raw, only)
		if err != nil {
			return err
		}
		cfgs = []stack.Config{cfg}
	}
	root, err := stack.RepoRoot()
	if err != nil {
		return err
	}
	for _, cfg := range cfgs {
		stack.New(app, &stack.Props{Config: cfg, Root: root})
	}
	app.Synth(nil)
	return nil
}
