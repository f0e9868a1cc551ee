package protocolgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
)

// Every example frame in docs/protocol.md (a ```json block holding whole
// frames, an "action" or a "type" each) is a frame of the definition: its
// action or kind exists, it has every required field, and each field it
// shows is one of the definition's, of its type, nested frames and objects
// included. A field the docs show that the definition lacks fails.
func TestTheDocsExamplesAreFramesOfTheDefinition(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, DocsFile))
	if err != nil {
		t.Fatal(err)
	}
	p := contract.Definition()
	n := 0
	for _, block := range jsonBlocks(string(doc)) {
		frames, ok := decodeAll(block)
		if !ok {
			continue // a fragment ("warning": {…}), not whole frames
		}
		for _, f := range frames {
			n++
			if err := checkExample(p, f); err != nil {
				t.Errorf("%s: the example %s: %v", DocsFile, strings.Join(strings.Fields(block), " "), err)
			}
		}
	}
	if n < 15 {
		t.Fatalf("only %d example frames found in %s", n, DocsFile)
	}
	bad := map[string]any{"type": "pong", "ts": 1.0, "typing": true}
	if checkExample(p, bad) == nil {
		t.Fatal("an example with a field the definition lacks passed")
	}
}

var jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)```")

func jsonBlocks(doc string) []string {
	var out []string
	for _, m := range jsonBlock.FindAllStringSubmatch(doc, -1) {
		out = append(out, m[1])
	}
	return out
}

// decodeAll decodes a block of whole JSON objects; ok is false for anything else.
func decodeAll(block string) ([]map[string]any, bool) {
	dec := json.NewDecoder(strings.NewReader(block))
	var out []map[string]any
	for {
		var v map[string]any
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			return out, len(out) > 0
		} else if err != nil || v == nil {
			return nil, false
		}
		out = append(out, v)
	}
}

func checkExample(p contract.Protocol, f map[string]any) error {
	if name, ok := f["action"].(string); ok && f["type"] == nil {
		i := slices.IndexFunc(p.Actions, func(a contract.Action) bool { return a.Name == name })
		if i < 0 {
			return fmt.Errorf("no action %q", name)
		}
		return checkObject(p, f, "action", p.Actions[i].Fields)
	}
	kind, _ := f["type"].(string)
	k, ok := p.Frame(kind)
	if !ok {
		return fmt.Errorf("no frame kind %q", kind)
	}
	return checkObject(p, f, "type", k.Fields)
}

func checkObject(p contract.Protocol, o map[string]any, discriminator string, fields []contract.Field) error {
	var errs []error
	for name := range o {
		if name != discriminator && !slices.ContainsFunc(fields, func(f contract.Field) bool { return f.Name == name }) {
			errs = append(errs, fmt.Errorf("%q is no field of it", name))
		}
	}
	for _, f := range fields {
		v, ok := o[f.Name]
		if !ok {
			if f.Required {
				errs = append(errs, fmt.Errorf("the required %q is missing", f.Name))
			}
			continue
		}
		errs = append(errs, checkValue(p, f, v))
	}
	return errors.Join(errs...)
}

func checkValue(p contract.Protocol, f contract.Field, v any) error {
	if f.Type.List {
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%q is not a list", f.Name)
		}
		one := f
		one.Type.List = false
		var errs []error
		for _, e := range list {
			errs = append(errs, checkValue(p, one, e))
		}
		return errors.Join(errs...)
	}
	switch f.Type.Base {
	case contract.BaseString:
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%q is not a string", f.Name)
		}
	case contract.BaseNumber:
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%q is not a number", f.Name)
		}
	case contract.BaseShape:
		o, ok := v.(map[string]any)
		shape, known := p.Shape(f.Type.Of)
		if !ok || !known {
			return fmt.Errorf("%q is not an object of %s", f.Name, f.Type.Of)
		}
		return checkObject(p, o, "", shape.Fields)
	case contract.BaseFrame:
		o, ok := v.(map[string]any)
		if !ok || o["type"] != f.Type.Of {
			return fmt.Errorf("%q is not a %s frame", f.Name, f.Type.Of)
		}
		return checkExample(p, o)
	}
	return nil
}
