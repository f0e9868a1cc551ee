// Data: the DynamoDB tables, built from the shared key schema in contract.
package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/contract"
)

// Data holds the chat's tables, keyed by contract.Table.ID.
type Data struct {
	Connections awsdynamodb.Table
	Messages    awsdynamodb.Table
	// Specs pairs each table with its contract entry, in contract order.
	Specs []TableSpec
}

// TableSpec is a deployed table and the contract entry it was built from.
type TableSpec struct {
	Contract contract.Table
	Table    awsdynamodb.Table
}

func newData(scope constructs.Construct, cfg Config) *Data {
	d := &Data{}
	for _, t := range contract.Tables() {
		table := newTable(scope, cfg, t)
		d.Specs = append(d.Specs, TableSpec{Contract: t, Table: table})
		switch t.ID {
		case contract.Connections.ID:
			d.Connections = table
		case contract.Messages.ID:
			d.Messages = table
		}
	}
	return d
}

// newTable builds one on-demand table with TTL; PITR, deletion protection and
// the removal policy follow the environment's config.
func newTable(scope constructs.Construct, cfg Config, t contract.Table) awsdynamodb.Table {
	props := &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String(t.PartitionKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String(t.TTLAttribute),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(cfg.PointInTimeRecovery),
		},
		DeletionProtection: jsii.Bool(cfg.DeletionProtection),
		RemovalPolicy:      removalPolicy(cfg),
	}
	if t.SortKey != "" {
		props.SortKey = &awsdynamodb.Attribute{Name: jsii.String(t.SortKey), Type: awsdynamodb.AttributeType_STRING}
	}
	table := awsdynamodb.NewTable(scope, jsii.String(t.ID), props)
	for _, ix := range t.Indexes {
		gsi := &awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:        jsii.String(ix.Name),
			PartitionKey:     &awsdynamodb.Attribute{Name: jsii.String(ix.PartitionKey), Type: awsdynamodb.AttributeType_STRING},
			ProjectionType:   awsdynamodb.ProjectionType_INCLUDE,
			NonKeyAttributes: jsii.Strings(ix.NonKeyAttributes...),
		}
		if ix.SortKey != "" {
			gsi.SortKey = &awsdynamodb.Attribute{Name: jsii.String(ix.SortKey), Type: awsdynamodb.AttributeType_STRING}
		}
		table.AddGlobalSecondaryIndex(gsi)
	}
	if !cfg.PointInTimeRecovery {
		reason := "Point-in-time recovery is off by this environment's config (pointInTimeRecovery=false): " +
			"it holds short-lived test chat data that expires by TTL; prod enables it."
		suppressNag(table, "AwsSolutions-DDB3", reason)
		skipCheckov(table, "CKV_AWS_28", reason)
	}
	skipCheckov(table, "CKV_AWS_119",
		"Encrypted at rest with the DynamoDB-owned key: the items are ephemeral chat data that expire by TTL, "+
			"and a customer-managed key would add a KMS call per request without a key policy anyone needs.")
	return table
}

// removalPolicy is what happens to a stateful resource (a table, a log
// group, the alarm key) when it leaves the stack. A retaining environment
// keeps it on stack deletion, on removal from the template and on
// replacement (UpdateReplacePolicy Retain), but not when the stack operation
// that created it rolls back (DeletionPolicy RetainExceptOnCreate): a failed
// first deploy leaves no new, empty resources behind outside any stack, one
// set per retry. A table with deletion protection still refuses that
// rollback's delete; docs/deploy.md ("If the first deploy fails") has the
// way out.
func removalPolicy(cfg Config) awscdk.RemovalPolicy {
	if cfg.Retain() {
		return awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE
	}
	return awscdk.RemovalPolicy_DESTROY
}
