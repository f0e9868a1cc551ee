// Compute: the one Lambda function behind every route, its log group, its
// role, and the written-out permissions that match what the handler calls.
package stack

import (
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/groupchat/groupchat/contract"
)

const (
	// 512 MB: the Go binary needs ~30 MB, but Lambda allots CPU in proportion
	// to memory, and a broadcast is TLS-heavy concurrent PostToConnection
	// calls; 512 MB (about 0.3 vCPU on arm64) keeps a fan-out to a busy room
	// well under a second at a cost per ms that stays negligible.
	memoryMB = 512
	// contract.FunctionTimeout (25 s): API Gateway's WebSocket integration times out at 29 s. Ending the
	// invocation first means a stuck call is cut, logged and counted by the
	// duration alarm, instead of API Gateway giving up on it silently.
	timeoutSeconds = float64(contract.FunctionTimeout / time.Second) // 25
)

// tableActions are exactly the DynamoDB actions the handler calls, per table.
var tableActions = map[string][]string{
	contract.Connections.ID: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
	// UpdateItem: a room's count, in shards in the Messages table, changes in a
	// transaction with the record it counts (lambda/dynamo/rooms.go).
	// DeleteItem: a deleted account's private-history copies
	// (lambda/dynamo/deleteaccount.go).
	contract.Messages.ID: {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"},
}

// indexActions are the actions the handler calls on a table's indexes.
var indexActions = []string{"dynamodb:Query"}

// Compute is the chat function and what it runs with.
type Compute struct {
	Function awslambda.Function
	Role     awsiam.Role
	LogGroup awslogs.LogGroup
	// InvokeSelf is the policy that lets the function invoke itself (its
	// fan-out shards, shards.go), apart from the role's own.
	InvokeSelf awsiam.Policy
}

func newCompute(scope constructs.Construct, cfg Config, code awslambda.Code) *Compute {
	logGroup := awslogs.NewLogGroup(scope, jsii.String("HandlerLogs"), &awslogs.LogGroupProps{
		Retention:     logRetention[cfg.LogRetentionDays],
		RemovalPolicy: removalPolicy(cfg),
	})
	role := awsiam.NewRole(scope, jsii.String("HandlerRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("GroupChat handler (" + cfg.Env + "): its tables, its stage's @connections, its log group"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteOwnLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	}))
	props := &awslambda.FunctionProps{
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          code,
		MemorySize:    jsii.Number(memoryMB),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(timeoutSeconds)),
		Role:          role,
		LogGroup:      logGroup,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		Tracing:       awslambda.Tracing_ACTIVE,
		Description:   jsii.String("GroupChat WebSocket handler (" + cfg.Env + "): every route"),
		Environment: &map[string]*string{
			contract.EnvFanoutPoolSize:         jsii.String(strconv.Itoa(cfg.FanoutPoolSize)),
			contract.EnvMessageRetentionDays:   jsii.String(strconv.Itoa(cfg.MessageRetentionDays)),
			contract.EnvRateLimitMessages:      jsii.String(strconv.Itoa(cfg.RateLimitMessages)),
			contract.EnvRateLimitWindowSeconds: jsii.String(strconv.Itoa(cfg.RateLimitWindowSeconds)),
			contract.EnvMaxDevices:             jsii.String(strconv.Itoa(cfg.MaxDevicesPerAccount)),
			contract.EnvMaxConnectsPerMinute:   jsii.String(strconv.Itoa(cfg.MaxConnectsPerMinute)),
		},
	}
	if cfg.ReservedConcurrency > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(cfg.ReservedConcurrency)
	}
	fn := awslambda.NewFunction(scope, jsii.String("Handler"), props)
	return &Compute{Function: fn, Role: role, LogGroup: logGroup}
}

// useTables gives the function its tables: for each, the environment variable
// that names it and the statements for exactly the actions it calls, set in
// one place so configuration and permission cannot drift apart.
func (c *Compute) useTables(data *Data) {
	for _, spec := range data.Specs {
		t := spec.Table
		c.Function.AddEnvironment(jsii.String(spec.Contract.EnvVar), t.TableName(), nil)
		c.allow(spec.Contract.ID+"Table", tableActions[spec.Contract.ID], *t.TableArn())
		for _, ix := range spec.Contract.Live() {
			c.allow(spec.Contract.ID+"Index"+ix.Name, indexActions, *t.TableArn()+"/index/"+ix.Name)
		}
	}
}

// useManagementAPI gives the function its stage's callback URL and the right
// to POST to connections there and to DELETE them (close a connection whose
// sign-in ended, every one of an account that signs out everywhere, or
// those of an account a moderator kicks or bans): the
// two management calls the handler makes, not GET.
func (c *Compute) useManagementAPI(api awsapigatewayv2.WebSocketApi, stage awsapigatewayv2.WebSocketStage) {
	c.Function.AddEnvironment(jsii.String(contract.EnvManagementEndpoint), stage.CallbackUrl(), nil)
	arn := func(verb string) string {
		return *awscdk.Stack_Of(stage).FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("execute-api"),
			Resource:     api.ApiId(),
			ResourceName: jsii.String(*stage.StageName() + "/" + verb + "/@connections/*"),
		})
	}
	c.allow("PostToConnection", []string{"execute-api:ManageConnections"}, arn("POST"))
	c.allow("DeleteConnection", []string{"execute-api:ManageConnections"}, arn("DELETE"))
}

func (c *Compute) allow(sid string, actions []string, resource string) {
	c.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String(sid),
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(resource),
	}))
}

// acceptFindings records the reviewed findings on the compute resources,
// each narrowed to the exact resource strings it concerns.
func (c *Compute) acceptFindings(cfg Config, api awsapigatewayv2.WebSocketApi) {
	stack := awscdk.Stack_Of(c.Role)
	apiID := *stack.GetLogicalId(cfnOf(api))
	suppressNag(c.Role, "AwsSolutions-IAM5",
		"X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions (Resource *); "+
			"the connection ids on the function's own stage are only known at run time.",
		"Resource::*",
		// Region and account are tokens or literals, depending on the stack's env.
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:execute-api:[^/]+:<` + apiID + `>\/` +
			cfg.StageName + `\/(POST|DELETE)\/@connections\/\*$/`)},
	)
	fn := c.Function
	skipCheckov(fn, "CKV_AWS_116", "API Gateway invokes the function synchronously; its only asynchronous events are its own fan-out shards, "+
		"a frame worth nothing a minute later (MaximumEventAge 60 s): one dropped is counted in AsyncEventsDropped, whose alarm tells the operator.")
	skipCheckov(fn, "CKV_AWS_117", "The function calls only public AWS endpoints (DynamoDB, API Gateway); a VPC would add NAT cost and cold-start latency and protect nothing.")
	skipCheckov(fn, "CKV_AWS_173", "The environment holds table names, a URL and two numbers, no secrets; Lambda encrypts it at rest with its service key.")
	if cfg.ReservedConcurrency == 0 {
		skipCheckov(fn, "CKV_AWS_115", "Reserved concurrency is opt-in per environment (reservedConcurrency): reserving it fails on new accounts whose concurrency quota is 10.")
	}
	ignoreCfnLint(fn, "W3005", "CDK makes the function depend on its role and the role's policy, so the policy exists "+
		"before the first invocation; the extra DependsOn on the role is redundant but harmless.")
	ignoreCfnLint(fn, "WS1004", "The function logs to its own explicit log group (LoggingConfig.LogGroup, HandlerLogs) "+
		"with RetentionInDays; this rule only recognises a group named /aws/lambda/<function name>.")
	skipCheckov(c.LogGroup, "CKV_AWS_158", "CloudWatch Logs encrypts log data at rest with its service key; the handler logs no message text or secrets.")
}

// logRetention maps the configured days to CDK's enum (config.go accepts
// exactly these keys).
var logRetention = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}
