package templatediff

// The callouts: what a change does to data and to who may connect.

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

const (
	typeTable       = "AWS::DynamoDB::Table"
	typeGlobalTable = "AWS::DynamoDB::GlobalTable"
	typeRoute       = "AWS::ApiGatewayV2::Route"
	typeCDKMetadata = "AWS::CDK::Metadata"
)

// removed: a stateful resource leaves the stack.
func (r *Result) removed(spec Spec, id string, b Resource, base, head Template) {
	if !spec.Stateful[b.Type] {
		return
	}
	var fate string
	switch policy(b.DeletionPolicy) {
	case "Retain", "RetainExceptOnCreate":
		fate = "CloudFormation leaves it in the account (DeletionPolicy " + policy(b.DeletionPolicy) + "), outside any stack"
	case "Snapshot":
		fate = "CloudFormation deletes it after a final snapshot (DeletionPolicy Snapshot)"
	default:
		fate = "CloudFormation **deletes it and its data** (DeletionPolicy " + policy(b.DeletionPolicy) + ")"
	}
	var same []string
	for _, hid := range sortedKeys(head.Resources) {
		h := head.Resources[hid]
		if _, inBase := base.Resources[hid]; h.Type != b.Type || inBase {
			continue
		}
		same = append(same, "`"+hid+"`")
		// The same physical name under a new logical id: CloudFormation
		// creates the new resource before it removes the old one.
		for _, p := range sortedKeys(spec.Replaces[b.Type]) {
			v := b.Properties[p]
			if spec.Replaces[b.Type][p] != ReplaceYes || !strings.HasSuffix(p, "Name") || v == nil || !reflect.DeepEqual(v, h.Properties[p]) {
				continue
			}
			r.add(KindReplaced, id, b.Type, "**`%s`** (%s) moves to a new logical id: `%s` has the same %s `%s`, and CloudFormation creates it before it removes `%s`, so **the deploy fails** (a resource of that name exists); keep the logical id (overrideLogicalId) or move the resource with `cdk import`.",
				id, b.Type, hid, p, render(v), id)
		}
	}
	hint := ""
	if len(same) > 0 {
		hint = fmt.Sprintf(" If it was renamed (the head has %s of this type), its data does not move to the new one.", strings.Join(same, ", "))
	}
	r.add(KindRemoved, id, b.Type, "**`%s`** (%s) is removed: %s.%s", id, b.Type, fate, hint)
}

// changed: the callouts of a resource in both templates.
func (r *Result) changed(spec Spec, id string, b, h Resource) {
	if b.Type != h.Type {
		if spec.Stateful[b.Type] || spec.Stateful[h.Type] {
			r.add(KindReplaced, id, h.Type, "**`%s`** changes type from %s to %s: CloudFormation replaces it; %s.", id, b.Type, h.Type, oldOneFate(h))
		}
		return
	}
	if spec.Stateful[h.Type] {
		var yes, maybe []string
		for _, p := range sortedKeys(b.Properties, h.Properties) {
			if reflect.DeepEqual(b.Properties[p], h.Properties[p]) {
				continue
			}
			switch spec.Replaces[h.Type][p] {
			case ReplaceYes:
				yes = append(yes, p)
			case ReplaceMaybe:
				maybe = append(maybe, p)
			}
		}
		if len(yes) > 0 {
			r.add(KindReplaced, id, h.Type, "**`%s`** (%s) is **replaced**: a change of %s needs a new resource; the new one starts empty and %s.",
				id, h.Type, strings.Join(yes, ", "), oldOneFate(h))
		} else if len(maybe) > 0 {
			r.add(KindReplaced, id, h.Type, "**`%s`** (%s) may be **replaced**: some changes of %s need a new resource; then the new one starts empty and %s.",
				id, h.Type, strings.Join(maybe, ", "), oldOneFate(h))
		}
	}
	for _, p := range []struct {
		name string
		b, h any
	}{
		{"DeletionPolicy", b.DeletionPolicy, h.DeletionPolicy},
		{"UpdateReplacePolicy", b.UpdateReplacePolicy, h.UpdateReplacePolicy},
	} {
		if policy(p.b) != policy(p.h) {
			r.add(KindPolicy, id, h.Type, "**`%s`** (%s): %s %s → **%s**%s.", id, h.Type, p.name, policy(p.b), policy(p.h), policyMeaning(p.name, policy(p.h)))
		}
	}
	if h.Type == typeTable || h.Type == typeGlobalTable {
		r.tableCallouts(id, b, h)
	}
	if h.Type == typeRoute {
		r.routeCallouts(id, b, h)
	}
}

// policy is a DeletionPolicy or UpdateReplacePolicy as it acts: none is
// Delete; an intrinsic function is written as JSON.
func policy(p any) string {
	if p == nil || p == "" {
		return "Delete"
	}
	return render(p)
}

func policyMeaning(name, p string) string {
	when := "removing it from the stack"
	if name == "UpdateReplacePolicy" {
		when = "replacing it"
	}
	switch p {
	case "Delete":
		return ": " + when + " now **deletes its data**"
	case "Snapshot":
		return ": " + when + " now deletes it after a final snapshot"
	case "Retain", "RetainExceptOnCreate":
		return ": " + when + " now leaves it in the account"
	default:
		return ": what " + when + " does now depends on a condition; it may **delete its data**"
	}
}

// oldOneFate is what happens to the replaced resource, by UpdateReplacePolicy.
func oldOneFate(h Resource) string {
	switch policy(h.UpdateReplacePolicy) {
	case "Retain", "RetainExceptOnCreate":
		return "the old one stays in the account, outside the stack (UpdateReplacePolicy " + policy(h.UpdateReplacePolicy) + "); a fixed physical name makes the deploy fail"
	case "Snapshot":
		return "the old one is deleted after a final snapshot (UpdateReplacePolicy Snapshot)"
	}
	return "the old one is **deleted with its data** (UpdateReplacePolicy Delete)"
}

// tableCallouts: the key schema and the global secondary indexes.
func (r *Result) tableCallouts(id string, b, h Resource) {
	if bk, hk := keySchema(b.Properties["KeySchema"]), keySchema(h.Properties["KeySchema"]); bk != hk {
		r.add(KindKeySchema, id, h.Type, "**`%s`** (%s) changes its key schema from %s to %s: the table is replaced, and every item must be copied by hand.",
			id, h.Type, bk, hk)
	}
	// The same key names, with another type in AttributeDefinitions.
	bt, ht := attrTypes(b.Properties["AttributeDefinitions"]), attrTypes(h.Properties["AttributeDefinitions"])
	retyped := func(ks any) []string {
		var out []string
		for _, e := range asList(ks) {
			name := render(asMap(e)["AttributeName"])
			if bt[name] != "" && ht[name] != "" && bt[name] != ht[name] {
				out = append(out, fmt.Sprintf("`%s` changes type %s → %s", name, bt[name], ht[name]))
			}
		}
		return out
	}
	for _, c := range retyped(h.Properties["KeySchema"]) {
		r.add(KindKeySchema, id, h.Type, "**`%s`** (%s): its key %s: DynamoDB cannot change a key's type, so the table must be replaced and every item copied by hand.", id, h.Type, c)
	}
	if lb, lh := b.Properties["LocalSecondaryIndexes"], h.Properties["LocalSecondaryIndexes"]; !reflect.DeepEqual(lb, lh) {
		var names []string
		for _, name := range sortedKeys(indexes(lb), indexes(lh)) {
			names = append(names, "`"+name+"`")
		}
		r.add(KindIndex, id, h.Type, "**`%s`** changes its local secondary indexes (%s): they are set only when a table is created, so the deploy fails; a new table (and a copy of every item) is the only way.",
			id, strings.Join(names, ", "))
	}
	bi, hi := indexes(b.Properties["GlobalSecondaryIndexes"]), indexes(h.Properties["GlobalSecondaryIndexes"])
	for _, name := range sortedKeys(hi) {
		if _, inBase := bi[name]; !inBase {
			continue
		}
		for _, c := range retyped(hi[name]["KeySchema"]) {
			r.add(KindIndex, id, h.Type, "**`%s`**: the key of its global secondary index `%s`: %s: an index cannot change in place, so the deploy fails; remove it and add one under another name in two deploys.", id, name, c)
		}
	}
	for _, name := range sortedKeys(bi, hi) {
		bx, inBase := bi[name]
		hx, inHead := hi[name]
		switch {
		case !inHead:
			r.add(KindIndex, id, h.Type, "**`%s`** loses the global secondary index `%s` (%s): a query of it fails once it is gone.", id, name, keySchema(bx["KeySchema"]))
		case !inBase:
			r.add(KindIndex, id, h.Type, "**`%s`** gains the global secondary index `%s` (%s): DynamoDB backfills it from every item before the update completes, and one update may add or remove only one index.",
				id, name, keySchema(hx["KeySchema"]))
		case keySchema(bx["KeySchema"]) != keySchema(hx["KeySchema"]) || !reflect.DeepEqual(bx["Projection"], hx["Projection"]):
			r.add(KindIndex, id, h.Type, "**`%s`** changes the key schema or projection of its global secondary index `%s` (%s → %s): an index cannot change in place, so the deploy fails; remove it and add one under another name in two deploys.",
				id, name, keySchema(bx["KeySchema"]), keySchema(hx["KeySchema"]))
		}
	}
}

// keySchema writes a KeySchema as "pk (HASH), sk (RANGE)".
func keySchema(v any) string {
	list, _ := v.([]any)
	var parts []string
	for _, e := range list {
		m, _ := e.(map[string]any)
		parts = append(parts, fmt.Sprintf("%v (%v)", render(m["AttributeName"]), render(m["KeyType"])))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// attrTypes maps AttributeDefinitions by AttributeName to AttributeType.
func attrTypes(v any) map[string]string {
	out := map[string]string{}
	for _, e := range asList(v) {
		m := asMap(e)
		out[render(m["AttributeName"])] = render(m["AttributeType"])
	}
	return out
}

func asList(v any) []any         { l, _ := v.([]any); return l }
func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// indexes maps a GlobalSecondaryIndexes list by IndexName.
func indexes(v any) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := v.([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out[render(m["IndexName"])] = m
		}
	}
	return out
}

// routeCallouts: who may use a WebSocket route.
func (r *Result) routeCallouts(id string, b, h Resource) {
	auth := func(res Resource) string {
		t := render(res.Properties["AuthorizationType"])
		if t == "" {
			t = "NONE"
		}
		if a := res.Properties["AuthorizerId"]; a != nil {
			t += " (authorizer " + render(a) + ")"
		}
		return t
	}
	ba, ha := auth(b), auth(h)
	if ba == ha {
		return
	}
	route := render(h.Properties["RouteKey"])
	what := ""
	if render(h.Properties["AuthorizationType"]) == "" || render(h.Properties["AuthorizationType"]) == "NONE" {
		what = ": **anyone may use it without signing in**"
	}
	r.add(KindRouteAuth, id, h.Type, "**`%s`** (route `%s`): authorization %s → %s%s.", id, route, ba, ha, what)
}

// render writes a property value for a sentence: strings as they are, a Ref
// or Fn::GetAtt by what it names, anything else as JSON.
func render(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok && len(x) == 1 {
			return ref
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(x) == 1 && len(ga) == 2 {
			return fmt.Sprintf("%v.%v", ga[0], ga[1])
		}
	}
	data, _ := json.Marshal(v)
	return string(data)
}
