package protocolgen

import (
	"bytes"
	"fmt"
	"go/format"
	"strings"

	"github.com/groupchat/groupchat/contract"
)

// Go returns contract/protocol_gen.go for p: a Go struct for every shape and
// server frame, which the load tool decodes frames with (GoRequests has the
// client frames). A required field is always encoded; an optional one is
// omitted when empty.
func Go(p contract.Protocol) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("\npackage contract\n")
	for _, s := range p.Shapes {
		fmt.Fprintf(&b, "\n// %s is %s.\ntype %s struct {\n", s.Name, s.Doc, s.Name)
		goFields(&b, s.Fields)
		b.WriteString("}\n")
	}
	for _, k := range p.Frames {
		fmt.Fprintf(&b, "\n// %s is a %q frame: %s.\ntype %s struct {\n\tType string `json:\"type\"`\n", frameType(k.Kind), k.Kind, k.When, frameType(k.Kind))
		goFields(&b, k.Fields)
		b.WriteString("}\n")
	}
	return goSource(b.Bytes())
}

// GoRequests returns contract/requests_gen.go for p: a Go struct for every
// client frame, which the load tool encodes its requests with.
func GoRequests(p contract.Protocol) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("\npackage contract\n")
	for _, a := range p.Actions {
		fmt.Fprintf(&b, "\n// %s is a %q frame: %s.\ntype %s struct {\n\tAction string `json:\"action\"`\n", requestType(a.Name), a.Name, a.Doc, requestType(a.Name))
		goFields(&b, a.Fields)
		b.WriteString("}\n")
	}
	return goSource(b.Bytes())
}

// goSource formats generated Go; the generator's own output must parse.
func goSource(src []byte) []byte {
	out, err := format.Source(src)
	if err != nil {
		panic("protocolgen: the Go it writes does not parse: " + err.Error())
	}
	return out
}

func goFields(b *bytes.Buffer, fields []contract.Field) {
	for _, f := range fields {
		tag := f.Name
		if !f.Required {
			tag += ",omitempty"
		}
		doc := f.Doc
		if l := f.Limit(); l != "" {
			doc += " (" + l + ")"
		}
		fmt.Fprintf(b, "\t// %s: %s.\n\t%s %s `json:%q`\n", goName(f.Name), doc, goName(f.Name), goType(f), tag)
	}
}

// goName is a field's exported Go name: "oldName" → OldName, "id" → ID.
func goName(name string) string {
	switch name {
	case "id", "ts", "cv":
		return strings.ToUpper(name)
	}
	return pascal(name)
}

func goType(f contract.Field) string {
	var s string
	switch f.Type.Base {
	case contract.BaseString:
		s = "string"
	case contract.BaseNumber:
		s = "int64"
	case contract.BaseShape:
		s = f.Type.Of
		if !f.Required && !f.Type.List {
			s = "*" + s // omitted when absent
		}
	case contract.BaseFrame:
		s = frameType(f.Type.Of)
	}
	if f.Type.List {
		s = "[]" + s
	}
	return s
}
