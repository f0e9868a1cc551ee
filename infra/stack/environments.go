// Environments: every environment of cdk.json, validated one by one and then
// against one another, for what no single environment's config can check.
package stack

import (
	"fmt"
	"sort"
	"strings"
)

// ParseEnvironments validates every environment of the context value raw
// (ParseConfig, in name order) and refuses two of them that would manage
// API Gateway's CloudWatch role setting in the same account and region.
func ParseEnvironments(raw any) ([]Config, error) {
	names, err := EnvNames(raw)
	if err != nil {
		return nil, err
	}
	cfgs := make([]Config, 0, len(names))
	for _, env := range names {
		cfg, err := ParseConfig(raw, env)
		if err != nil {
			return nil, err
		}
		cfgs = append(cfgs, cfg)
	}
	if err := checkAccountRoleOwners(cfgs); err != nil {
		return nil, err
	}
	return cfgs, nil
}

// checkAccountRoleOwners: API Gateway keeps one CloudWatch role setting per
// account and region, so two stacks that both manage it there overwrite each
// other's on every deploy (and CloudFormation asks for one
// AWS::ApiGateway::Account per account and region). Environments whose
// account or region is not known at synth (configured, or the CLI's
// CDK_DEFAULT_*) cannot be compared and pass.
func checkAccountRoleOwners(cfgs []Config) error {
	owners := map[string][]string{} // "account region" -> environments
	for _, c := range cfgs {
		account, region := c.target()
		if !c.ManageAPIGatewayAccountRole || account == "" || region == "" {
			continue
		}
		where := "account " + account + ", region " + region
		owners[where] = append(owners[where], ContextKey+"."+c.Env)
	}
	var conflicts []string
	for where, envs := range owners {
		switch {
		case len(envs) == 2:
			conflicts = append(conflicts, fmt.Sprintf("%s both set manageApiGatewayAccountRole and deploy to %s", strings.Join(envs, " and "), where))
		case len(envs) > 2:
			conflicts = append(conflicts, fmt.Sprintf("%s all set manageApiGatewayAccountRole and deploy to %s", strings.Join(envs, ", "), where))
		}
	}
	if len(conflicts) == 0 {
		return nil
	}
	sort.Strings(conflicts)
	return fmt.Errorf("%s: API Gateway has one CloudWatch role setting per account and region, "+
		"and each of these stacks would overwrite it; set manageApiGatewayAccountRole to true in one of them only "+
		"(docs/deploy.md, \"API Gateway's account-level CloudWatch role\")", strings.Join(conflicts, "; "))
}
