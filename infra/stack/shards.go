package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// shardEventAgeSeconds: a fan-out shard not run within a minute is dropped
// (AsyncEventsDropped): its frame would reach the room a minute late, and
// the page has it from its next hello. 60 s is Lambda's least.
const shardEventAgeSeconds = 60

// useShards lets the function hand a big broadcast's slices to other
// environments of itself (docs/design.md, Fan-out shards): lambda:InvokeFunction
// on its own ARN and nothing else, in a policy of its own. In the role's
// policy, which the function depends on, the function's ARN would make a
// cycle (CDK's grantInvoke on itself does); this policy depends on both and
// neither on it. Lambda retries a failed shard twice, as by default, and
// drops one older than shardEventAgeSeconds.
func (c *Compute) useShards(scope constructs.Construct) {
	c.InvokeSelf = awsiam.NewPolicy(scope, jsii.String("HandlerInvokeSelf"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{c.Role},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("InvokeSelf"),
			Actions:   jsii.Strings("lambda:InvokeFunction"),
			Resources: jsii.Strings(*c.Function.FunctionArn()),
		})},
	})
	c.Function.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
		MaxEventAge:   awscdk.Duration_Seconds(jsii.Number(shardEventAgeSeconds)),
		RetryAttempts: jsii.Number(2),
	})
}
