// Findings: how the stack records accepted linter findings. Every cdk-nag
// suppression and every checkov or cfn-lint skip carries its reason, next to
// the resource it concerns, so a reviewer reads both in one place.
package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppressNag accepts the cdk-nag rule id on c and its children, narrowed
// to the findings named in appliesTo (strings, or *cdknag.RegexAppliesTo)
// when any are given.
func suppressNag(c constructs.IConstruct, id, reason string, appliesTo ...any) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		s.AppliesTo = &appliesTo
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}

// skipCheckov records a checkov skip with its reason in the resource's metadata.
func skipCheckov(c constructs.IConstruct, id, reason string) {
	res := cfnOf(c)
	var skips []any
	if m, ok := res.GetMetadata(jsii.String("checkov")).(map[string]any); ok {
		if s, ok := m["skip"].([]any); ok {
			skips = s
		}
	}
	skips = append(skips, map[string]any{"id": id, "comment": reason})
	res.AddMetadata(jsii.String("checkov"), map[string]any{"skip": skips})
}

// ignoreCfnLint records a cfn-lint rule to ignore on the resource, and its
// reason under the sibling key "cfn-lint-reasons" (cfn-lint's own config has
// no place for one).
func ignoreCfnLint(c constructs.IConstruct, id, reason string) {
	res := cfnOf(c)
	var ids []any
	if m, ok := res.GetMetadata(jsii.String("cfn-lint")).(map[string]any); ok {
		if cfg, ok := m["config"].(map[string]any); ok {
			if s, ok := cfg["ignore_checks"].([]any); ok {
				ids = s
			}
		}
	}
	reasons, _ := res.GetMetadata(jsii.String("cfn-lint-reasons")).(map[string]any)
	if reasons == nil {
		reasons = map[string]any{}
	}
	reasons[id] = reason
	res.AddMetadata(jsii.String("cfn-lint"), map[string]any{"config": map[string]any{"ignore_checks": append(ids, id)}})
	res.AddMetadata(jsii.String("cfn-lint-reasons"), reasons)
}

// cfnOf returns c itself when it is a CloudFormation resource, else its
// default child (the L1 resource of an L2 construct).
func cfnOf(c constructs.IConstruct) awscdk.CfnResource {
	if res, ok := c.(awscdk.CfnResource); ok && *awscdk.CfnResource_IsCfnResource(c) {
		return res
	}
	return c.Node().DefaultChild().(awscdk.CfnResource)
}
