// The stack: one per environment, assembled from the concerns in this package.
package stack

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/groupchat/groupchat/contract"
)

// Props configure one GroupChat stack.
type Props struct {
	awscdk.StackProps
	Config Config
	// Code is the function's code; nil builds lambda/ with scripts/build-lambda.sh.
	Code awslambda.Code
	// Root is the repository root, used when Code is nil.
	Root string
}

// GroupChat is one environment's stack and its parts.
type GroupChat struct {
	awscdk.Stack
	Data          *Data
	Compute       *Compute
	API           *API
	Observability *Observability
	Hosting       *Hosting
	// Settle is the settle queue and its dead-letter queue.
	Settle *Settle
	// Auth is nil with auth "none".
	Auth *Auth
}

// New builds the stack for props.Config.Env and checks it with cdk-nag's
// AwsSolutions rules. Nil props read as empty ones, like the CDK's Go
// template; but a stack needs a Config (from ParseConfig), so an empty one
// stops here with a message naming it, before any construct exists.
func New(scope constructs.Construct, props *Props) *GroupChat {
	var p Props
	if props != nil {
		p = *props
	}
	cfg := p.Config
	if cfg.Env == "" {
		panic("stack.New: props.Config is empty; build it with stack.ParseConfig")
	}
	sp := p.StackProps
	if sp.Env == nil {
		sp.Env = environment(cfg)
	}
	if sp.Description == nil {
		sp.Description = jsii.String("GroupChat (" + cfg.Env + "): WebSocket API, Lambda, DynamoDB, dashboard, alarms, Amplify hosting")
	}
	st := awscdk.NewStack(scope, jsii.String(cfg.StackName()), &sp)
	awscdk.Tags_Of(st).Add(jsii.String("app"), jsii.String("groupchat"), nil)
	awscdk.Tags_Of(st).Add(jsii.String("env"), jsii.String(cfg.Env), nil)

	code := p.Code
	if code == nil {
		code = LambdaCode(p.Root)
	}
	g := &GroupChat{Stack: st}
	g.Data = newData(st, cfg)
	g.Compute = newCompute(st, cfg, code)
	g.Auth = newAuth(st, cfg, g.Compute.Function)
	g.API = newAPI(st, cfg, g.Compute, g.Auth)
	g.Compute.useTables(g.Data)
	g.Compute.useManagementAPI(g.API.Api, g.API.Stage)
	g.Compute.useAuth(g.Auth)
	g.Settle = g.Compute.useSettleQueue(st)
	g.Compute.useShards(st)
	g.Compute.acceptFindings(cfg, g.API.Api)
	g.Hosting = newHosting(st, cfg, g.API.Stage.Url(), g.Auth)
	g.Observability = newObservability(st, monitored{cfg: cfg, compute: g.Compute, data: g.Data, api: g.API, hosting: g.Hosting,
		settle: g.Settle})
	g.outputs()
	refuseExampleValues(st, cfg)

	awscdk.Aspects_Of(st).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return g
}

func (g *GroupChat) outputs() {
	out := func(id, desc string, value *string) {
		awscdk.NewCfnOutput(g.Stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(desc)})
	}
	out("WebSocketURL", "wss:// URL of the chat's API stage (clients connect here)", g.API.Stage.Url())
	out("ManagementURL", "https:// callback URL of the stage (the handler's PostToConnection endpoint)", g.API.Stage.CallbackUrl())
	out("FrontendURL", "https:// address of this environment's Amplify branch", g.Hosting.URL)
	out("AmplifyAppId", "Amplify app id (console: Amplify > Apps)", g.Hosting.App.AttrAppId())
	out("DashboardURL", "CloudWatch dashboard of this environment",
		jsii.String("https://"+*consoleHost(g.Stack)+"/cloudwatch/home?region="+*g.Region()+"#dashboards:name="+*g.Observability.Dashboard.DashboardName()))
	out("AlarmTopicArn", "SNS topic every alarm notifies", g.Observability.Topic.TopicArn())
	for _, spec := range g.Data.Specs {
		out(spec.Contract.ID+"TableName", "DynamoDB table "+spec.Contract.ID+" (the function's "+spec.Contract.EnvVar+")", spec.Table.TableName())
	}
	out("FunctionName", "the Lambda handler", g.Compute.Function.FunctionName())
	if a := g.Auth; a != nil {
		out("UserPoolId", "Cognito user pool people sign in to (the page's "+contract.EnvFrontendUserPoolID+")", a.UserPool.UserPoolId())
		out("UserPoolClientId", "the page's app client: no secret, SRP (the page's "+contract.EnvFrontendUserPoolClientID+"; the function reads it from the parameter "+a.SettingsName+")", a.Client.UserPoolClientId())
		out("AuthIssuer", "issuer of the ID tokens $connect accepts (the function reads it from the parameter "+a.SettingsName+")", a.Issuer)
		out("AuthRegion", "region of the user pool (the page's "+contract.EnvFrontendAuthRegion+")", a.Region)
	}
}

// consoleHost is the AWS console's host name in the stack's partition. The
// URL suffix does not give it (China's is amazonaws.com.cn, its console
// console.amazonaws.cn; GovCloud's is amazonaws.com, its console
// console.amazonaws-us-gov.com), so it is chosen by AWS::Partition, with the
// commercial console for any other partition: a partition mapping would
// fail the deploy where it has no entry, for the sake of an output.
func consoleHost(st awscdk.Stack) *string {
	partitionIs := func(id, partition string) *string {
		c := awscdk.NewCfnCondition(st, jsii.String(id), &awscdk.CfnConditionProps{
			Expression: awscdk.Fn_ConditionEquals(awscdk.Aws_PARTITION(), jsii.String(partition)),
		})
		return c.LogicalId()
	}
	china, gov := partitionIs("PartitionIsChina", "aws-cn"), partitionIs("PartitionIsGovCloud", "aws-us-gov")
	host := awscdk.Fn_ConditionIf(china, jsii.String("console.amazonaws.cn"),
		awscdk.Fn_ConditionIf(gov, jsii.String("console.amazonaws-us-gov.com"), jsii.String("console.aws.amazon.com")))
	return awscdk.Token_AsString(host, nil)
}

// environment pins the stack to the configured account and region, each
// missing one falling back to the CLI's (see target); nil when neither is
// known, so an offline synth stays environment-agnostic.
func environment(cfg Config) *awscdk.Environment {
	account, region := cfg.target()
	if account == "" && region == "" {
		return nil
	}
	env := &awscdk.Environment{}
	if account != "" {
		env.Account = jsii.String(account)
	}
	if region != "" {
		env.Region = jsii.String(region)
	}
	return env
}

// target is the account and region the stack deploys to, "" where unknown:
// each configured one, else the CLI's (CDK_DEFAULT_ACCOUNT,
// CDK_DEFAULT_REGION). The CLI sets CDK_DEFAULT_ACCOUNT only when it found
// credentials, but always sets CDK_DEFAULT_REGION (us-east-1 when nothing is
// configured), so the CLI's region counts only alongside a known account
// instead of naming a region nobody chose.
func (c Config) target() (account, region string) {
	account, region = c.Account, c.Region
	if account == "" {
		account = os.Getenv("CDK_DEFAULT_ACCOUNT")
	}
	if region == "" && account != "" {
		region = os.Getenv("CDK_DEFAULT_REGION")
	}
	return account, region
}
