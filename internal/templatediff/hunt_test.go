package templatediff

// Templates a reviewer meets beyond the synthesized fixtures: a transform
// with an intrinsic DeletionPolicy, a nested stack, a table moved to a new
// logical id under the same name, and files that are not templates.

import (
	"slices"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) Template {
	t.Helper()
	tpl, err := ParseTemplate([]byte(s))
	if err != nil {
		t.Fatalf("%v in %s", err, s)
	}
	return tpl
}

func calloutOf(r Result, kind Kind, id, says string) bool {
	return slices.ContainsFunc(r.Callouts, func(c Callout) bool {
		return c.Kind == kind && c.Resource == id && strings.Contains(c.Text, says)
	})
}

// TestReviewerSeesAnIntrinsicDeletionPolicyOfALanguageExtensionsTemplate:
// with the AWS::LanguageExtensions transform a DeletionPolicy may be an
// Fn::If; the summary still compares the template (before: "not a
// template: cannot unmarshal object into … DeletionPolicy of type string",
// and pr-summary lost the stack) and calls out its change to Delete.
func TestReviewerSeesAnIntrinsicDeletionPolicyOfALanguageExtensionsTemplate(t *testing.T) {
	base := mustParse(t, `{"Transform":"AWS::LanguageExtensions","Conditions":{"IsProd":{"Fn::Equals":["a","a"]}},
		"Resources":{"T":{"Type":"AWS::DynamoDB::Table","DeletionPolicy":{"Fn::If":["IsProd","Retain","Delete"]},"Properties":{"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}]}}}}`)
	head := mustParse(t, `{"Transform":"AWS::LanguageExtensions","Conditions":{"IsProd":{"Fn::Equals":["a","a"]}},
		"Resources":{"T":{"Type":"AWS::DynamoDB::Table","DeletionPolicy":"Delete","Properties":{"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}]}}}}`)
	r := Compare(testSpec(t), base, head)
	if !calloutOf(r, KindPolicy, "T", "→ **Delete**") {
		t.Errorf("no DeletionPolicy callout: %+v", r.Callouts)
	}
}

// TestReviewerSeesANestedStackRemoved: a nested stack's removal deletes
// everything in it.
func TestReviewerSeesANestedStackRemoved(t *testing.T) {
	base := mustParse(t, `{"Resources":{"Data":{"Type":"AWS::CloudFormation::Stack","Properties":{"TemplateURL":"https://x/data.json"}}}}`)
	head := mustParse(t, `{"Resources":{}}`)
	r := Compare(testSpec(t), base, head)
	if !calloutOf(r, KindRemoved, "Data", "is removed") {
		t.Errorf("no removal callout for the nested stack: %+v", r.Callouts)
	}
}

// TestReviewerSeesATableMovedToANewLogicalIDUnderItsName: a refactor that
// moves a table to another construct path changes its logical id, not its
// TableName: CloudFormation creates the "new" table first, under the name
// the old one holds, and the deploy fails. The reviewer is told so, not
// that the data stays behind in a new table.
func TestReviewerSeesATableMovedToANewLogicalIDUnderItsName(t *testing.T) {
	base := mustParse(t, `{"Resources":{"OldA1":{"Type":"AWS::DynamoDB::Table","DeletionPolicy":"Retain","Properties":{"TableName":"chat-messages","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}]}}}}`)
	head := mustParse(t, `{"Resources":{"NewB2":{"Type":"AWS::DynamoDB::Table","DeletionPolicy":"Retain","Properties":{"TableName":"chat-messages","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}]}}}}`)
	r := Compare(testSpec(t), base, head)
	if !calloutOf(r, KindReplaced, "OldA1", "`NewB2` has the same TableName `chat-messages`") ||
		!calloutOf(r, KindReplaced, "OldA1", "the deploy fails") {
		t.Errorf("no callout that the same table moves to NewB2 and the deploy fails: %+v", r.Callouts)
	}
}

// TestReviewerGetsAClearErrorForWhatIsNotATemplate: no panic, and an error
// that says the file is not a template.
func TestReviewerGetsAClearErrorForWhatIsNotATemplate(t *testing.T) {
	for _, s := range []string{``, `[]`, `{"Resources":[]}`, `{"Resources":{"A":"x"}}`, `{"Resources":{"A":{"Type":5}}}`, `Resources: {}`} {
		_, err := ParseTemplate([]byte(s))
		if err == nil || !strings.Contains(err.Error(), "not a template") {
			t.Errorf("%q: %v, want a 'not a template' error", s, err)
		}
	}
	// A template without resources is an empty stack, not an error.
	r := Compare(testSpec(t), mustParse(t, `{"Description":"x"}`), mustParse(t, `{"Resources":{"Q":{"Type":"AWS::SQS::Queue"}}}`))
	if !slices.Equal(r.Added, []string{"Q"}) {
		t.Errorf("added %q, want Q", r.Added)
	}
}

// TestReviewerSeesAKeyAttributeChangeType: the key schema names the same
// attribute, but its type in AttributeDefinitions changes (S to N, as a
// switch from string ids to numbers does): DynamoDB cannot change a key's
// type, for the table or an index.
func TestReviewerSeesAKeyAttributeChangeType(t *testing.T) {
	table := func(pkType, gsiType string) string {
		return `{"Resources":{"T":{"Type":"AWS::DynamoDB::Table","Properties":{
			"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
			"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"` + pkType + `"},{"AttributeName":"room","AttributeType":"` + gsiType + `"}],
			"GlobalSecondaryIndexes":[{"IndexName":"byRoom","KeySchema":[{"AttributeName":"room","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"}}]}}}}`
	}
	r := Compare(testSpec(t), mustParse(t, table("S", "S")), mustParse(t, table("N", "S")))
	if !calloutOf(r, KindKeySchema, "T", "`pk` changes type S → N") {
		t.Errorf("no callout on the table key's type: %+v", r.Callouts)
	}
	r = Compare(testSpec(t), mustParse(t, table("S", "S")), mustParse(t, table("S", "N")))
	if !calloutOf(r, KindIndex, "T", "`room` changes type S → N") {
		t.Errorf("no callout on the index key's type: %+v", r.Callouts)
	}
}

// TestReviewerSeesALocalSecondaryIndexChange: local secondary indexes are
// set only when a table is created (CloudFormation: "Updates are not
// supported"), so adding, removing or changing one fails the deploy.
func TestReviewerSeesALocalSecondaryIndexChange(t *testing.T) {
	base := mustParse(t, `{"Resources":{"T":{"Type":"AWS::DynamoDB::Table","Properties":{"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]}}}}`)
	head := mustParse(t, `{"Resources":{"T":{"Type":"AWS::DynamoDB::Table","Properties":{"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],
		"LocalSecondaryIndexes":[{"IndexName":"byTs","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"ts","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}]}}}}`)
	r := Compare(testSpec(t), base, head)
	if !calloutOf(r, KindIndex, "T", "local secondary index") || !calloutOf(r, KindIndex, "T", "the deploy fails") {
		t.Errorf("no callout on the local secondary index: %+v", r.Callouts)
	}
}
