package templatediff

// What CloudFormation does with a property change, and which resource types
// hold data, read from the CloudFormation resource specification the pinned
// CDK CLI ships (node_modules/aws-cdk/db.json.gz, the database `cdk diff`
// judges replacements with): one source, updated with the CLI.

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
)

// Replacement is what a property's change does to its resource.
type Replacement string

const (
	ReplaceNo    Replacement = ""      // updated in place
	ReplaceYes   Replacement = "yes"   // always replaced
	ReplaceMaybe Replacement = "maybe" // replaced for some changes
)

// Spec is the part of the resource specification the comparison needs.
type Spec struct {
	// Stateful are the types whose resources hold data that a replacement
	// or removal loses (tables, user pools, keys, log groups, buckets…).
	Stateful map[string]bool
	// Replaces maps a type's properties to what changing them does.
	Replaces map[string]map[string]Replacement
}

// specDB is the shape of db.json.gz, only the fields read.
type specDB struct {
	Schema struct {
		Resource struct {
			Entities []struct {
				Type       string `json:"cloudFormationType"`
				IsStateful bool   `json:"isStateful"`
				Properties map[string]struct {
					CausesReplacement Replacement `json:"causesReplacement"`
				} `json:"properties"`
			} `json:"entities"`
		} `json:"resource"`
	} `json:"schema"`
}

// LoadSpec reads the CDK CLI's db.json.gz.
func LoadSpec(path string) (Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return Spec{}, fmt.Errorf("the resource specification: %w (the pinned CDK CLI ships it: scripts/deps.sh installs it)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return Spec{}, fmt.Errorf("the resource specification %s: %w", path, err)
	}
	var db specDB
	if err := json.NewDecoder(zr).Decode(&db); err != nil {
		return Spec{}, fmt.Errorf("the resource specification %s: %w", path, err)
	}
	s := Spec{Stateful: map[string]bool{}, Replaces: map[string]map[string]Replacement{}}
	for _, e := range db.Schema.Resource.Entities {
		if e.IsStateful {
			s.Stateful[e.Type] = true
		}
		for name, p := range e.Properties {
			if p.CausesReplacement == ReplaceYes || p.CausesReplacement == ReplaceMaybe {
				if s.Replaces[e.Type] == nil {
					s.Replaces[e.Type] = map[string]Replacement{}
				}
				s.Replaces[e.Type][name] = p.CausesReplacement
			}
		}
	}
	if len(s.Stateful) == 0 || len(s.Replaces) == 0 {
		return Spec{}, fmt.Errorf("the resource specification %s names no stateful type or no replacing property: its format changed", path)
	}
	return s, nil
}
