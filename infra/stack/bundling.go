// Bundling: the Lambda's code, built on this machine by
// scripts/build-lambda.sh (no Docker, no Go alpha module).
package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"
)

// goBuild implements awscdk.ILocalBundling: it runs the repository's build
// script into the asset's output directory.
type goBuild struct{ root string }

// TryBundle builds OUTPUTDIR/bootstrap. Returning false would make CDK fall
// back to Docker, which this project never has, so a failed build panics with
// the script's output instead.
func (g *goBuild) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	cmd := exec.Command(filepath.Join(g.root, "scripts", "build-lambda.sh"), *outputDir)
	cmd.Dir = g.root
	// No VCS stamp: the binary, and so the asset hash, depends on the source only.
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		panic(fmt.Sprintf("build the Lambda: %v\n%s", err, out))
	}
	return jsii.Bool(true)
}

// LambdaCode returns the function's code asset, built from ROOT/lambda.
// The asset hash is the built binary's, so an unchanged handler deploys
// nothing new.
func LambdaCode(root string) awslambda.Code {
	return awslambda.Code_FromAsset(jsii.String(filepath.Join(root, "lambda")), &awss3assets.AssetOptions{
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Bundling: &awscdk.BundlingOptions{
			// Never pulled: TryBundle always succeeds or stops the synth.
			Image: awscdk.DockerImage_FromRegistry(jsii.String("local-bundling-only")),
			Local: &goBuild{root: root},
		},
	})
}

// RepoRoot finds the repository root (the directory holding go.mod) from
// the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
