package ddbproxy

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// act is one action of the differential check, as data: it is sent as a
// transaction's action or as a plain write, and printed when the two sides
// differ. Items are {pk, v, n}.
type act struct {
	Kind   string // Put, Update (ADD 1 to n, and updates[U] of v), Delete, Check
	PK     string
	Cond   int  // condNone … condVNot
	C      int  // the condition's value
	U      int  // the Update's expression: an index of updates
	V      int  // what a Put or an Update sets v to
	AllOld bool // ReturnValuesOnConditionCheckFailure ALL_OLD
}

const (
	condNone = iota
	condExists
	condAbsent
	condVIs
	condNBelow
	condVSet
	condVNot
	conds
)

// updates are the Update's expressions; all add 1 to n.
var updates = []string{"SET #v = :v ADD #n :one", "REMOVE #v ADD #n :one", "SET #v = if_not_exists(#v, :v) ADD #n :one"}

func num(n int) types.AttributeValue { return &types.AttributeValueMemberN{Value: strconv.Itoa(n)} }

// expr is the action's condition with its names and values, and those of
// its update.
func (a act) expr() (cond *string, names map[string]string, values map[string]types.AttributeValue) {
	names, values = map[string]string{}, map[string]types.AttributeValue{}
	switch a.Cond {
	case condExists:
		cond = aws.String("attribute_exists(pk)")
	case condAbsent:
		cond = aws.String("attribute_not_exists(pk)")
	case condVIs:
		cond, names["#v"], values[":c"] = aws.String("#v = :c"), "v", num(a.C)
	case condNBelow:
		cond, names["#n"], values[":c"] = aws.String("#n < :c"), "n", num(a.C)
	case condVSet:
		cond, names["#v"] = aws.String("attribute_exists(#v)"), "v"
	case condVNot:
		cond, names["#v"], values[":c"] = aws.String("#v <> :c"), "v", num(a.C)
	}
	if a.Kind == "Update" {
		names["#v"], names["#n"], values[":one"] = "v", "n", num(1)
		if a.U != 1 {
			values[":v"] = num(a.V)
		}
	}
	if len(names) == 0 {
		names = nil
	}
	if len(values) == 0 {
		values = nil
	}
	return cond, names, values
}

func (a act) rv() types.ReturnValuesOnConditionCheckFailure {
	if a.AllOld {
		return types.ReturnValuesOnConditionCheckFailureAllOld
	}
	return ""
}

// tx is the action as a transaction's.
func (a act) tx(table string) types.TransactWriteItem {
	cond, names, values := a.expr()
	switch a.Kind {
	case "Put":
		return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(table),
			Item:                map[string]types.AttributeValue{"pk": s(a.PK), "v": num(a.V)},
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnValuesOnConditionCheckFailure: a.rv()}}
	case "Update":
		return types.TransactWriteItem{Update: &types.Update{TableName: aws.String(table), Key: key(a.PK),
			UpdateExpression:    aws.String(updates[a.U]),
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnValuesOnConditionCheckFailure: a.rv()}}
	case "Delete":
		return types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(table), Key: key(a.PK),
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnValuesOnConditionCheckFailure: a.rv()}}
	}
	if cond == nil {
		cond = aws.String("attribute_exists(pk)")
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(table), Key: key(a.PK),
		ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ReturnValuesOnConditionCheckFailure: a.rv()}}
}

// send is the action as a plain write (a Check as a Put).
func (a act) send(d *diff, db *dynamodb.Client) error {
	cond, names, values := a.expr()
	var err error
	switch a.Kind {
	case "Update":
		_, err = db.UpdateItem(d.ctx, &dynamodb.UpdateItemInput{TableName: aws.String(d.table), Key: key(a.PK),
			UpdateExpression:    aws.String(updates[a.U]),
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	case "Delete":
		_, err = db.DeleteItem(d.ctx, &dynamodb.DeleteItemInput{TableName: aws.String(d.table), Key: key(a.PK),
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	default:
		_, err = db.PutItem(d.ctx, &dynamodb.PutItemInput{TableName: aws.String(d.table),
			Item:                map[string]types.AttributeValue{"pk": s(a.PK), "v": num(a.V)},
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	}
	return err
}

// txOf is a transaction of acts with a token ("" for none: the SDK then
// sets one of its own), and the text that identifies its actions.
func txOf(table, token string, acts []act) (*dynamodb.TransactWriteItemsInput, string) {
	in := &dynamodb.TransactWriteItemsInput{}
	if token != "" {
		in.ClientRequestToken = aws.String(token)
	}
	for _, a := range acts {
		in.TransactItems = append(in.TransactItems, a.tx(table))
	}
	b, _ := json.Marshal(acts)
	return in, string(b)
}

// randomAct is an action on one of keys.
func randomAct(rng *rand.Rand, keys []string) act {
	a := act{Kind: []string{"Put", "Update", "Delete", "Check"}[rng.IntN(4)], PK: keys[rng.IntN(len(keys))],
		Cond: rng.IntN(conds), C: rng.IntN(4), U: rng.IntN(len(updates)), V: rng.IntN(4)}
	if a.Kind == "Check" && a.Cond == condNone {
		a.Cond = condExists
	}
	a.AllOld = a.Cond != condNone && rng.IntN(3) == 0
	return a
}

// randomActs are 1 to 4 actions, each on an item of its own but one time
// in ten (two actions on one item are refused).
func randomActs(rng *rand.Rand, keys []string) []act {
	n := 1 + rng.IntN(4)
	order := rng.Perm(len(keys))
	acts := make([]act, n)
	for i := range acts {
		acts[i] = randomAct(rng, keys)
		acts[i].PK = keys[order[i]]
	}
	if n > 1 && rng.IntN(10) == 0 {
		acts[n-1].PK = acts[0].PK
	}
	return acts
}
