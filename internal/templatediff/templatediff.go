// Package templatediff compares two CloudFormation templates of one stack for
// a reviewer (scripts/pr-summary.sh): which resources really change (a
// change of Metadata only, such as aws:cdk:path or an asset's hash, is not
// a change to the deployed stack), and a callout for each change a reviewer
// must not miss: a stateful resource replaced or removed, a DeletionPolicy
// or UpdateReplacePolicy changed, a global secondary index added or removed,
// a table's key schema changed, a WebSocket route's authorization changed.
//
// It is Go rather than more of pr-summary.sh's JavaScript because it must
// read templates structurally (key schemas, index lists, intrinsic
// references) and be tested case by case on small templates; the CDK CLI's
// own diff stays in the summary for the full text.
package templatediff

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
)

// Template is the part of a template the comparison reads.
type Template struct {
	Resources map[string]Resource `json:"Resources"`
	// Other top-level sections (Outputs, Parameters, Rules, Conditions,
	// Mappings), compared as a whole.
	Other map[string]any `json:"-"`
}

// Resource is one resource of a template.
type Resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties,omitempty"`
	Metadata   any            `json:"Metadata,omitempty"`
	// A string, or an intrinsic function (Fn::If, Ref) under the
	// AWS::LanguageExtensions transform.
	DeletionPolicy      any    `json:"DeletionPolicy,omitempty"`
	UpdateReplacePolicy any    `json:"UpdateReplacePolicy,omitempty"`
	DependsOn           any    `json:"DependsOn,omitempty"`
	Condition           string `json:"Condition,omitempty"`
	UpdatePolicy        any    `json:"UpdatePolicy,omitempty"`
	CreationPolicy      any    `json:"CreationPolicy,omitempty"`
}

// ReadTemplate reads a template file; "" is the empty template (a stack the
// base does not have).
func ReadTemplate(path string) (Template, error) {
	if path == "" {
		return Template{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Template{}, err
	}
	return ParseTemplate(data)
}

// ParseTemplate reads a template's JSON.
func ParseTemplate(data []byte) (Template, error) {
	var t Template
	if err := json.Unmarshal(data, &t); err != nil {
		return t, fmt.Errorf("not a template: %w", err)
	}
	var all map[string]any
	_ = json.Unmarshal(data, &all)
	delete(all, "Resources")
	t.Other = all
	return t, nil
}

// Result is what changes from base to head.
type Result struct {
	// Added, Changed and Removed are logical ids, sorted. Changed excludes
	// resources whose only difference is their Metadata: those are in
	// MetadataOnly.
	Added        []string `json:"added"`
	Changed      []string `json:"changed"`
	Removed      []string `json:"removed"`
	MetadataOnly []string `json:"metadataOnly"`
	// Sections are the other top-level sections that differ (Outputs, …).
	Sections []string  `json:"sections"`
	Callouts []Callout `json:"callouts"`
}

// Callout is a change a reviewer must see.
type Callout struct {
	Kind     Kind   `json:"kind"`
	Resource string `json:"resource"`
	Type     string `json:"type"`
	// Text is one Markdown sentence: what changes and what it does.
	Text string `json:"text"`
}

// Kind is what a callout is about.
type Kind string

const (
	KindReplaced  Kind = "replaced"   // a stateful resource is (or may be) replaced
	KindRemoved   Kind = "removed"    // a stateful resource leaves the stack
	KindPolicy    Kind = "policy"     // DeletionPolicy or UpdateReplacePolicy changes
	KindIndex     Kind = "index"      // a global secondary index is added, removed or changed
	KindKeySchema Kind = "key-schema" // a table's key schema changes
	KindRouteAuth Kind = "route-auth" // a WebSocket route's authorization changes
)

// Compare compares base with head.
func Compare(spec Spec, base, head Template) Result {
	r := Result{Added: []string{}, Changed: []string{}, Removed: []string{}, MetadataOnly: []string{}, Sections: []string{}, Callouts: []Callout{}}
	for _, id := range sortedKeys(base.Resources, head.Resources) {
		b, inBase := base.Resources[id]
		h, inHead := head.Resources[id]
		switch {
		case !inHead:
			r.Removed = append(r.Removed, id)
			r.removed(spec, id, b, base, head)
		case !inBase:
			r.Added = append(r.Added, id)
		default:
			bm, hm := b, h
			bm.Metadata, hm.Metadata = nil, nil
			// The CDK's own resource carries only the construct library's
			// analytics: what it says is metadata too.
			if b.Type == typeCDKMetadata && h.Type == typeCDKMetadata {
				bm.Properties, hm.Properties = nil, nil
			}
			if reflect.DeepEqual(bm, hm) {
				if !reflect.DeepEqual(b, h) {
					r.MetadataOnly = append(r.MetadataOnly, id)
				}
				continue
			}
			r.Changed = append(r.Changed, id)
			r.changed(spec, id, b, h)
		}
	}
	for _, k := range sortedKeys(base.Other, head.Other) {
		if !reflect.DeepEqual(base.Other[k], head.Other[k]) {
			r.Sections = append(r.Sections, k)
		}
	}
	return r
}

func (r *Result) add(kind Kind, id, typ, format string, args ...any) {
	r.Callouts = append(r.Callouts, Callout{Kind: kind, Resource: id, Type: typ, Text: fmt.Sprintf(format, args...)})
}

func sortedKeys[V any](maps ...map[string]V) []string {
	var keys []string
	for _, m := range maps {
		for k := range m {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}
