// The tables, log groups and keys: their schema from contract, and what the
// removal policy keeps.

package stack

import (
	"testing"
)

// TestTablesFollowContractAndEnvironment: key schema from contract; TTL
// always; PITR, deletion protection and removal policy per environment.
func TestTablesFollowContractAndEnvironment(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		for _, spec := range s.stack.Data.Specs {
			r := s.resources("AWS::DynamoDB::Table")[s.logicalID(cfnOf(spec.Table))]
			p, c := props(r), spec.Contract
			keys := []any{map[string]any{"AttributeName": c.PartitionKey, "KeyType": "HASH"}}
			if c.SortKey != "" {
				keys = append(keys, map[string]any{"AttributeName": c.SortKey, "KeyType": "RANGE"})
			}
			if !sameJSON(p["KeySchema"], keys) {
				t.Errorf("%s keys %s", c.ID, asJSON(p["KeySchema"]))
			}
			for _, a := range p["AttributeDefinitions"].([]any) {
				if a.(map[string]any)["AttributeType"] != "S" {
					t.Errorf("%s: attribute %v is not a string", c.ID, a)
				}
			}
			want := map[string]any{
				"BillingMode":                      "PAY_PER_REQUEST",
				"TimeToLiveSpecification":          map[string]any{"AttributeName": c.TTLAttribute, "Enabled": true},
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": s.cfg.PointInTimeRecovery},
				"DeletionProtectionEnabled":        s.cfg.DeletionProtection,
			}
			for k, v := range want {
				if !sameJSON(p[k], v) {
					t.Errorf("%s %s = %s, want %s", c.ID, k, asJSON(p[k]), asJSON(v))
				}
			}
			deletion, replace := "Delete", "Delete"
			if s.cfg.Retain() {
				deletion, replace = "RetainExceptOnCreate", "Retain"
			}
			if r["DeletionPolicy"] != deletion || r["UpdateReplacePolicy"] != replace {
				t.Errorf("%s DeletionPolicy %v, UpdateReplacePolicy %v, want %s, %s", c.ID, r["DeletionPolicy"], r["UpdateReplacePolicy"], deletion, replace)
			}
			var gsis []any
			for _, ix := range c.Indexes {
				gsis = append(gsis, map[string]any{
					"IndexName":  ix.Name,
					"KeySchema":  []any{map[string]any{"AttributeName": ix.PartitionKey, "KeyType": "HASH"}, map[string]any{"AttributeName": ix.SortKey, "KeyType": "RANGE"}},
					"Projection": map[string]any{"NonKeyAttributes": toAny(ix.NonKeyAttributes), "ProjectionType": "INCLUDE"},
				})
			}
			if !sameJSON(p["GlobalSecondaryIndexes"], gsis) && !(gsis == nil && p["GlobalSecondaryIndexes"] == nil) {
				t.Errorf("%s indexes %s, want %s", c.ID, asJSON(p["GlobalSecondaryIndexes"]), asJSON(gsis))
			}
		}
	})
}

// TestLogGroupsAndKeysFollowRemovalPolicy: every log group and KMS key is
// deleted with a dev stack and retained by a prod one, on replacement too,
// except when the operation that created it rolls back.
func TestLogGroupsAndKeysFollowRemovalPolicy(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		wantDeletion := map[string]string{"dev": "Delete", "prod": "RetainExceptOnCreate"}[s.cfg.Env]
		wantReplace := map[string]string{"dev": "Delete", "prod": "Retain"}[s.cfg.Env]
		if wantDeletion == "" {
			t.Fatalf("no expectation for environment %s", s.cfg.Env)
		}
		for typ, n := range map[string]int{"AWS::Logs::LogGroup": 2, "AWS::KMS::Key": 1} {
			rs := s.resources(typ)
			if len(rs) != n {
				t.Errorf("%d %s resources, want %d", len(rs), typ, n)
			}
			for id, r := range rs {
				if r["DeletionPolicy"] != wantDeletion || r["UpdateReplacePolicy"] != wantReplace {
					t.Errorf("%s (%s): DeletionPolicy %v, UpdateReplacePolicy %v, want %s, %s",
						id, typ, r["DeletionPolicy"], r["UpdateReplacePolicy"], wantDeletion, wantReplace)
				}
			}
		}
	})
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
