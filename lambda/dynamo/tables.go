package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
)

// CreateTables creates the chat's tables from the shared key schema (for the
// local stack and tests; in AWS the CDK stack creates them) and waits until
// they are active. Tables that exist already are left as they are.
func CreateTables(ctx context.Context, db *dynamodb.Client, names Names) error {
	for _, t := range contract.Tables() {
		_, err := db.CreateTable(ctx, createTableInput(t, names.of(t)))
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("create table %s: %w", names.of(t), err)
		}
		w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
		if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(names.of(t))}, 30*time.Second); err != nil {
			return fmt.Errorf("wait for table %s: %w", names.of(t), err)
		}
	}
	return nil
}

func createTableInput(t contract.Table, name string) *dynamodb.CreateTableInput {
	attrs := map[string]bool{}
	var defs []types.AttributeDefinition
	keySchema := func(pk, sk string) []types.KeySchemaElement {
		ks := []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}}
		if sk != "" {
			ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange})
		}
		for _, a := range []string{pk, sk} {
			if a != "" && !attrs[a] {
				attrs[a] = true
				defs = append(defs, types.AttributeDefinition{AttributeName: aws.String(a), AttributeType: types.ScalarAttributeTypeS})
			}
		}
		return ks
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   keySchema(t.PartitionKey, t.SortKey),
	}
	// A retired index is the deployed template's until the next release
	// deletes it (contract.Index.Retired): a new table needs none.
	for _, ix := range t.Live() {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(ix.Name),
			KeySchema: keySchema(ix.PartitionKey, ix.SortKey),
			Projection: &types.Projection{
				ProjectionType:   types.ProjectionTypeInclude,
				NonKeyAttributes: ix.NonKeyAttributes,
			},
		})
	}
	in.AttributeDefinitions = defs
	return in
}
