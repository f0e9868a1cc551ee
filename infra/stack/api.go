// API: the WebSocket API with exactly the routes of contract.Routes(), all
// integrated with the one function ($connect, with sign-in, behind the
// authorizer auth.go builds), and its stage with throttling and access logs
// (plus, when configured, API Gateway's account-level CloudWatch role).
package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/contract"
)

// accessLogFormat is one JSON object per WebSocket event. No field may hold
// the query string, where the ID token travels (contract.AuthQueryParam):
// no request path or parameters, no identity source, no authorizer output;
// auth_test.go admits only the variables listed in tokenSafeContext.
const accessLogFormat = `{"requestId":"$context.requestId","connectionId":"$context.connectionId",` +
	`"eventType":"$context.eventType","routeKey":"$context.routeKey","status":"$context.status",` +
	`"requestTime":"$context.requestTimeEpoch","ip":"$context.identity.sourceIp",` +
	`"integrationStatus":"$context.integration.status","integrationLatency":"$context.integration.latency",` +
	`"integrationError":"$context.integration.error","error":"$context.error.message"}`

// API is the WebSocket API and its stage.
type API struct {
	Api       awsapigatewayv2.WebSocketApi
	Stage     awsapigatewayv2.WebSocketStage
	Routes    []awsapigatewayv2.WebSocketRoute
	AccessLog awslogs.LogGroup
}

func newAPI(scope constructs.Construct, cfg Config, c *Compute, auth *Auth) *API {
	api := awsapigatewayv2.NewWebSocketApi(scope, jsii.String("ChatApi"), &awsapigatewayv2.WebSocketApiProps{
		ApiName:                  jsii.String(cfg.StackName()),
		Description:              jsii.String("GroupChat WebSocket API (" + cfg.Env + ")"),
		RouteSelectionExpression: jsii.String(contract.RouteSelectionExpression),
	})
	// One integration object: CDK creates one integration resource for it
	// and a Lambda permission per route.
	integration := awsapigatewayv2integrations.NewWebSocketLambdaIntegration(jsii.String("Handler"), c.Function, nil)
	a := &API{Api: api}
	for _, r := range contract.Routes() {
		opts := &awsapigatewayv2.WebSocketRouteOptions{
			Integration:    integration,
			ReturnResponse: jsii.Bool(r.TwoWay),
		}
		if auth != nil && r.Key == contract.RouteConnect {
			opts.Authorizer = auth.Authorizer
		}
		route := api.AddRoute(jsii.String(r.Key), opts)
		switch {
		case opts.Authorizer != nil: // cdk-nag's APIG4 is satisfied
		case auth == nil:
			suppressNag(route, "AwsSolutions-APIG4", openDemo)
		default:
			suppressNag(route, "AwsSolutions-APIG4", admittedConnection)
		}
		a.Routes = append(a.Routes, route)
	}

	a.AccessLog = awslogs.NewLogGroup(scope, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     logRetention[cfg.LogRetentionDays],
		RemovalPolicy: removalPolicy(cfg),
	})
	skipCheckov(a.AccessLog, "CKV_AWS_158", "CloudWatch Logs encrypts log data at rest with its service key; access logs hold request metadata only.")
	a.Stage = awsapigatewayv2.NewWebSocketStage(scope, jsii.String("Stage"), &awsapigatewayv2.WebSocketStageProps{
		WebSocketApi: api,
		StageName:    jsii.String(cfg.StageName),
		AutoDeploy:   jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(cfg.ThrottleRateLimit),
			BurstLimit: jsii.Number(cfg.ThrottleBurstLimit),
		},
		AccessLogSettings: &accessLogs{group: a.AccessLog},
	})
	if cfg.ManageAPIGatewayAccountRole {
		a.Stage.Node().AddDependency(newAccountRole(scope, api))
	}
	return a
}

// Why a route has no authorizer.
const (
	openDemo = "This environment is an open demo (cdk.json auth \"none\", chosen explicitly; the default is \"cognito\"): " +
		"anyone with the URL may join, as docs/auth.md describes."
	admittedConnection = "API Gateway runs a WebSocket API's authorizer on $connect only, which has one here; " +
		"every other route runs on a connection its authorizer admitted."
)

// accessLogs implements awsapigatewayv2.IAccessLogSettings.
type accessLogs struct{ group awslogs.LogGroup }

func (a *accessLogs) Destination() awsapigatewayv2.IAccessLogDestination {
	return awsapigatewayv2.NewLogGroupLogDestination(a.group)
}

func (a *accessLogs) Format() awsapigateway.AccessLogFormat {
	return awsapigateway.AccessLogFormat_Custom(jsii.String(accessLogFormat))
}

// newAccountRole sets the account-wide role API Gateway needs to write any
// stage's logs. Removing an AWS::ApiGateway::Account resource leaves the
// account's setting as it is, so the role is retained even when the stack
// operation that created it rolls back (DeletionPolicy Retain, not the
// RetainExceptOnCreate of the stateful resources): a failed first deploy may
// already have pointed the setting at it, and deleting the role then would
// silently stop the logs of every API in the account and region. The cost is
// an IAM role left behind; see docs/deploy.md.
func newAccountRole(scope constructs.Construct, api awsapigatewayv2.WebSocketApi) awsapigateway.CfnAccount {
	role := awsiam.NewRole(scope, jsii.String("ApiGatewayCloudWatchRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
		Description: jsii.String("API Gateway's account-level role for writing stage logs to CloudWatch Logs"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AmazonAPIGatewayPushToCloudWatchLogs")),
		},
	})
	role.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN)
	suppressNag(role, "AwsSolutions-IAM4",
		"AmazonAPIGatewayPushToCloudWatchLogs is the AWS-maintained policy for API Gateway's account-wide logging role; "+
			"it must reach log groups API Gateway creates and names itself, for every API in the account.",
		"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
	account := awsapigateway.NewCfnAccount(scope, jsii.String("ApiGatewayAccount"), &awsapigateway.CfnAccountProps{
		CloudWatchRoleArn: role.RoleArn(),
	})
	// CloudFormation's reference for AWS::ApiGateway::Account: where the
	// account has never had an API Gateway resource, the Account must depend
	// on one. The CDK's RestApi makes its Account depend on its API; without
	// it a fresh account's first deploy may fail with "The role ARN does not
	// have required permissions set to API Gateway".
	account.AddResourceDependency(cfnOf(api), jsii.String("the account setting is applied once the account has an API Gateway resource"))
	return account
}
