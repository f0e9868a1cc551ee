package dynamo

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/groupchat/groupchat/contract"
)

// The items' struct tags spell attribute names; these checks pin the key and
// index attributes to the shared key schema.
func TestItemsCarryTheKeyAttributesOfTheSharedSchema(t *testing.T) {
	conn, _ := attributevalue.MarshalMap(connItem{PK: "c#1", ConnectionID: "1", Room: "r", Name: "n", ExpiresAt: 1, AccountID: "a", Username: "u", AuthExp: 1})
	claim, _ := attributevalue.MarshalMap(claimItem{PK: "n#r#n", ConnectionID: "1", Name: "n", ExpiresAt: 1})
	rec, _ := attributevalue.MarshalMap(recordItem{Stream: "public#r", ID: "x", ExpiresAt: 1})
	for _, tc := range []struct {
		what  string
		item  map[string]any
		attrs []string
	}{
		{"connection", keys(conn), append([]string{contract.ConnPK, contract.ConnRoom, contract.ConnID, contract.ConnExpiresAt}, contract.Connections.Indexes[0].NonKeyAttributes...)}, // the room index
		{"name claim", keys(claim), []string{contract.ConnPK, contract.ConnID, contract.ConnExpiresAt}},
		{"record", keys(rec), []string{contract.MessagesStream, contract.MessagesID, contract.MessagesExpires}},
	} {
		for _, a := range tc.attrs {
			if _, ok := tc.item[a]; !ok {
				t.Errorf("%s item has no attribute %q", tc.what, a)
			}
		}
	}
	if sharded, _ := attributevalue.MarshalMap(connItem{Shard: 1}); sharded[attrShard] == nil {
		t.Errorf("a connection item's shard is not the attribute %q PutConnection writes", attrShard)
	}
	if _, ok := keys(claim)[contract.ConnRoom]; ok {
		t.Error("name claims must not carry the room index's key, or they would show up as members")
	}
}

func keys[V any](m map[string]V) map[string]any {
	out := map[string]any{}
	for k := range m {
		out[k] = true
	}
	return out
}
