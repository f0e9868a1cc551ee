// Hosting: the Amplify app that builds frontend/ from the GitHub repository,
// with one auto-building branch for this environment (L1 resources: the
// Amplify alpha module is not available).
package stack

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsamplify"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/contract"
)

// appRoot is the frontend's directory in the monorepo.
const appRoot = "frontend"

// buildSpec builds frontend/ with its lockfile; the build writes
// GROUPCHAT_WS_URL (and, with sign-in, the user pool's settings: the
// contract.EnvFrontend* variables) into dist/config.json.
const buildSpec = `version: 1
applications:
  - appRoot: ` + appRoot + `
    frontend:
      phases:
        preBuild:
          commands:
            # Vite needs Node 20.19 or later; do not depend on the image's default.
            - nvm use 22 || nvm install 22
            - npm ci
        build:
          commands:
            - npm run build
      artifacts:
        baseDirectory: dist
        files:
          - '**/*'
      cache:
        paths:
          - node_modules/**/*
`

// spaRewrite sends every path without a file extension of a static asset to
// index.html, so /config.json and assets are served as they are.
const spaRewrite = `</^[^.]+$|\.(?!(css|gif|ico|jpg|jpeg|js|json|map|png|svg|txt|webmanifest|webp|woff|woff2|ttf)$)([^.]+$)/>`

// Hosting is the Amplify app and this environment's branch.
type Hosting struct {
	App    awsamplify.CfnApp
	Branch awsamplify.CfnBranch
	// URL is the branch's https address.
	URL *string
}

func newHosting(scope constructs.Construct, cfg Config, wsURL *string, auth *Auth) *Hosting {
	// A dynamic reference: CloudFormation resolves it at deploy time, so the
	// token never appears in the template or in cdk.out.
	token := awscdk.SecretValue_SecretsManager(jsii.String(cfg.GitHubTokenSecretName), nil)
	app := awsamplify.NewCfnApp(scope, jsii.String("Frontend"), &awsamplify.CfnAppProps{
		Name:        jsii.String(cfg.StackName()),
		Description: jsii.String("GroupChat web client (" + cfg.Env + ")"),
		Repository:  jsii.String(cfg.AmplifyRepository),
		AccessToken: token.UnsafeUnwrap(),
		Platform:    jsii.String("WEB"),
		BuildSpec:   jsii.String(buildSpec),
		EnvironmentVariables: []any{
			&awsamplify.CfnApp_EnvironmentVariableProperty{Name: jsii.String("AMPLIFY_MONOREPO_APP_ROOT"), Value: jsii.String(appRoot)},
		},
		CustomRules: []any{
			&awsamplify.CfnApp_CustomRuleProperty{Source: jsii.String(spaRewrite), Target: jsii.String("/index.html"), Status: jsii.String("200")},
		},
	})
	stage := "DEVELOPMENT"
	if cfg.Env == "prod" {
		stage = "PRODUCTION"
	}
	branch := awsamplify.NewCfnBranch(scope, jsii.String("FrontendBranch"), &awsamplify.CfnBranchProps{
		AppId:                app.AttrAppId(),
		BranchName:           jsii.String(cfg.AmplifyBranch),
		EnableAutoBuild:      jsii.Bool(true),
		Stage:                jsii.String(stage),
		EnvironmentVariables: branchVariables(wsURL, auth),
	})
	url := "https://" + strings.ReplaceAll(cfg.AmplifyBranch, "/", "-") + "." + *app.AttrDefaultDomain()
	return &Hosting{App: app, Branch: branch, URL: jsii.String(url)}
}

// branchVariables are what the page's build writes into config.json: the
// stage's URL and, with sign-in, the user pool's settings.
func branchVariables(wsURL *string, auth *Auth) []any {
	v := func(name string, value *string) any {
		return &awsamplify.CfnBranch_EnvironmentVariableProperty{Name: jsii.String(name), Value: value}
	}
	vars := []any{v(contract.EnvFrontendWSURL, wsURL)}
	if auth != nil {
		vars = append(vars,
			v(contract.EnvFrontendAuthRegion, auth.Region),
			v(contract.EnvFrontendUserPoolID, auth.UserPool.UserPoolId()),
			v(contract.EnvFrontendUserPoolClientID, auth.Client.UserPoolClientId()),
			v(contract.EnvFrontendAuthIssuer, auth.Issuer))
		if auth.SelfSignUp {
			vars = append(vars, v(contract.EnvFrontendSignUp, jsii.String("true")))
		}
	}
	return vars
}
