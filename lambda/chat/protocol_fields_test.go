package chat

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
)

// frameStructs is the handler's struct for each frame kind of the definition.
var frameStructs = map[string]any{
	contract.FrameState:          stateFrame{},
	contract.FramePong:           pongFrame{},
	contract.FrameJoined:         presenceFrame{},
	contract.FrameLeft:           presenceFrame{},
	contract.FramePresence:       countFrame{},
	contract.FrameMemberPage:     memberPageFrame{},
	contract.FrameMembers:        membersFrame{},
	contract.FrameRenamed:        renamedFrame{},
	contract.FramePublic:         publicFrame{},
	contract.FramePrivate:        privateFrame{},
	contract.FrameRemoved:        removedFrame{},
	contract.FrameEdited:         editedFrame{},
	contract.FrameError:          errorFrame{},
	contract.FrameReauthed:       reauthedFrame{},
	contract.FrameAccountDeleted: accountDeletedFrame{},
	contract.FrameHistory:        historyPageFrame{},
	contract.FrameModerated:      moderatedFrame{},
	contract.FrameTyping:         typingFrame{},
}

// The frames the handler sends have exactly the fields of contract's
// definition, of its types, and every field the definition calls required is
// always sent (no omitempty): a field added to one and not the other, or
// renamed in one, fails.
func TestTheHandlerFramesHaveTheDefinedFields(t *testing.T) {
	p := contract.Definition()
	for _, err := range frameMismatches(p, frameStructs) {
		t.Error(err)
	}
}

// The check above fails for a definition with a field the handler's frame
// lacks, with a frame kind the handler has no struct for, and with a field
// made required that the handler omits when empty.
func TestTheFieldCheckFailsOnADefinitionTheHandlerDoesNotFollow(t *testing.T) {
	for name, change := range map[string]func(p *contract.Protocol){
		"a new field": func(p *contract.Protocol) {
			k := &p.Frames[slices.IndexFunc(p.Frames, func(k contract.FrameKind) bool { return k.Kind == contract.FramePong })]
			k.Fields = append(slices.Clone(k.Fields), contract.Field{Name: "typing", Type: contract.Strings})
		},
		"a new frame kind": func(p *contract.Protocol) {
			p.Frames = append(p.Frames, contract.FrameKind{Kind: "reaction", When: "someone reacted"})
		},
		"an omitted field made required": func(p *contract.Protocol) {
			k := &p.Frames[slices.IndexFunc(p.Frames, func(k contract.FrameKind) bool { return k.Kind == contract.FramePong })]
			k.Fields = slices.Clone(k.Fields)
			for i := range k.Fields {
				k.Fields[i].Required = true
			}
		},
		"a field of another type": func(p *contract.Protocol) {
			i := slices.IndexFunc(p.Shapes, func(s contract.Shape) bool { return s.Name == contract.ShapeLimits })
			p.Shapes[i].Fields = slices.Clone(p.Shapes[i].Fields)
			p.Shapes[i].Fields[0].Type = contract.String
		},
	} {
		p := contract.Definition()
		change(&p)
		if errs := frameMismatches(p, frameStructs); len(errs) == 0 {
			t.Errorf("%s: no mismatch found", name)
		}
	}
}

// frameMismatches compares each frame kind of p with the handler's struct.
func frameMismatches(p contract.Protocol, structs map[string]any) []error {
	var errs []error
	for _, k := range p.Frames {
		s, ok := structs[k.Kind]
		if !ok {
			errs = append(errs, fmt.Errorf("frame kind %q: the handler has no struct for it", k.Kind))
			continue
		}
		fields := append([]contract.Field{{Name: "type", Type: contract.String, Required: true}}, k.Fields...)
		errs = append(errs, compareFields(p, k.Kind, reflect.TypeOf(s), fields)...)
	}
	return errs
}

// jsonField is a struct field as encoding/json sees it.
type jsonField struct {
	typ       reflect.Type
	omitempty bool
}

// jsonFields reads a struct's JSON fields, embedded structs' included.
func jsonFields(t reflect.Type) map[string]jsonField {
	out := map[string]jsonField{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, hasTag := f.Tag.Lookup("json")
		if f.Anonymous && !hasTag {
			for n, jf := range jsonFields(f.Type) {
				out[n] = jf
			}
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = jsonField{typ: f.Type, omitempty: slices.Contains(strings.Split(opts, ","), "omitempty")}
	}
	return out
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

func compareFields(p contract.Protocol, where string, t reflect.Type, want []contract.Field) []error {
	var errs []error
	got := jsonFields(t)
	for _, f := range want {
		g, ok := got[f.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %s has no field %q", where, t.Name(), f.Name))
			continue
		}
		delete(got, f.Name)
		if f.Required && g.omitempty {
			errs = append(errs, fmt.Errorf("%s.%s is required but %s omits it when empty", where, f.Name, t.Name()))
		}
		errs = append(errs, compareType(p, where+"."+f.Name, g.typ, f.Type)...)
	}
	for name := range got {
		errs = append(errs, fmt.Errorf("%s: %s has the field %q, which the definition lacks", where, t.Name(), name))
	}
	return errs
}

func compareType(p contract.Protocol, where string, t reflect.Type, want contract.Type) []error {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if want.List {
		if t.Kind() != reflect.Slice || t == rawMessage {
			return []error{fmt.Errorf("%s is %s, not a list", where, t)}
		}
		if want.Base == contract.BaseFrame && t.Elem() == rawMessage {
			return nil // frames encoded already (a state's history)
		}
		t, want.List = t.Elem(), false
	}
	mismatch := []error{fmt.Errorf("%s is %s, the definition says %+v", where, t, want)}
	switch want.Base {
	case contract.BaseString:
		if t.Kind() != reflect.String {
			return mismatch
		}
	case contract.BaseNumber:
		switch t.Kind() {
		case reflect.Int, reflect.Int64, reflect.Float64:
		default:
			return mismatch
		}
	case contract.BaseShape:
		shape, ok := p.Shape(want.Of)
		if !ok || t.Kind() != reflect.Struct {
			return mismatch
		}
		return compareFields(p, where, t, shape.Fields)
	case contract.BaseFrame:
		s, ok := frameStructs[want.Of]
		if !ok || t != reflect.TypeOf(s) {
			return mismatch
		}
	}
	return nil
}
