// Example values: what the shipped cdk.json holds for the keys each
// deployment must set itself, and the CloudFormation rule that refuses to
// deploy a stack still carrying them. The refusal lives in the template, so
// it holds for every way of deploying (make deploy, a plain cdk deploy, a
// pipeline) while an offline synth of the shipped cdk.json still succeeds.
package stack

import (
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// ExampleRepository is the amplifyRepository the shipped cdk.json names:
// this repository rather than a deployment's own fork.
const ExampleRepository = "https://github.com/groupchat/groupchat"

// exampleEmailRe matches addresses at the domains reserved for
// documentation (RFC 2606): mail to them is never delivered, so an alarm
// topic subscribed to one notifies nobody.
var exampleEmailRe = regexp.MustCompile(`(?i)@example\.(com|net|org)$`)

// Example is a cdk.json key whose value is still an example.
type Example struct {
	Key   string // the cdk.json key, e.g. amplifyRepository
	Value string // its value
}

// Examples lists the keys of c that still hold an example value.
func (c Config) Examples() []Example {
	var out []Example
	if strings.EqualFold(strings.TrimSuffix(c.AmplifyRepository, ".git"), ExampleRepository) {
		out = append(out, Example{"amplifyRepository", c.AmplifyRepository})
	}
	if exampleEmailRe.MatchString(c.AlarmEmail) {
		out = append(out, Example{"alarmEmail", c.AlarmEmail})
	}
	return out
}

// ExampleValuesRuleID is the logical id of the rule refuseExampleValues adds.
const ExampleValuesRuleID = "ExampleValues"

// refuseExampleValues adds a template rule with one failing assertion per
// example value in cfg: CloudFormation evaluates rules before it creates or
// updates anything, so it refuses the stack's create or update with the
// assertion's message, and nothing is left to roll back. Each assertion
// reads "the value is not one of the examples" (Fn::Not of Fn::Contains,
// the form of the CDK's own CheckBootstrapVersion rule). A stack without
// example values has no such rule.
func refuseExampleValues(st awscdk.Stack, cfg Config) {
	examples := cfg.Examples()
	if len(examples) == 0 {
		return
	}
	var assertions []*awscdk.CfnRuleAssertion
	for _, ex := range examples {
		assertions = append(assertions, &awscdk.CfnRuleAssertion{
			Assert: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionContains(jsii.Strings(ex.Value), jsii.String(ex.Value))),
			AssertDescription: jsii.String("cdk.json: " + ContextKey + "." + cfg.Env + "." + ex.Key + " is still the example value " +
				ex.Value + "; set this deployment's own, synthesize again and deploy (docs/deploy.md)"),
		})
	}
	awscdk.NewCfnRule(st, jsii.String(ExampleValuesRuleID), &awscdk.CfnRuleProps{Assertions: &assertions})
}
