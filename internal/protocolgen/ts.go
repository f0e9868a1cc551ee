package protocolgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/groupchat/groupchat/contract"
)

// TS returns the page's TypeScript module for p: the names of the actions,
// codes and frame kinds, and the field lists protocol.ts's parseFrame checks
// frames by. TSTypes has the frame types.
func TS(p contract.Protocol) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("\nimport type { Limits } from './protocol.types.gen';\n")
	b.WriteString("\n/** Every action a client sends (\"action\" of a client frame). */\nexport const Action = {\n")
	for _, a := range p.Actions {
		fmt.Fprintf(&b, "  /** %s (%s). */\n  %s: '%s',\n", a.Doc, routeText(a), pascal(a.Name), a.Name)
	}
	b.WriteString("} as const;\n\nexport type ActionName = (typeof Action)[keyof typeof Action];\n\n")
	b.WriteString("/** The actions that have a route of their own; the rest go through $default. */\nexport const CUSTOM_ROUTE_ACTIONS: readonly ActionName[] = [")
	sep := ""
	for _, a := range p.Actions {
		if a.CustomRoute() {
			fmt.Fprintf(&b, "%s'%s'", sep, a.Name)
			sep = ", "
		}
	}
	b.WriteString("];\n\n/** Every error code (\"code\" of an error frame or a state frame's warning). */\nexport const ErrorCode = {\n")
	for _, e := range p.Codes {
		fmt.Fprintf(&b, "  /** %s */\n  %s: '%s',\n", e.When, pascal(e.Code), e.Code)
	}
	b.WriteString("} as const;\n\nexport type ErrorCodeName = (typeof ErrorCode)[keyof typeof ErrorCode];\n")
	b.WriteString("\n/** Every frame kind the server sends (\"type\" of a server frame). */\nexport const FrameKind = {\n")
	for _, k := range p.Frames {
		fmt.Fprintf(&b, "  /** %s */\n  %s: '%s',\n", k.When, pascal(k.Kind), k.Kind)
	}
	b.WriteString("} as const;\n\nexport type FrameKindName = (typeof FrameKind)[keyof typeof FrameKind];\n\n")
	b.WriteString("/** The frame kinds in the definition's order. */\nexport const FRAME_KINDS: readonly FrameKindName[] = Object.values(FrameKind);\n")
	fieldSpecs(&b, p)
	return b.Bytes()
}

// TSTypes returns the page's TypeScript module of frame types for p: one for
// every shape and server frame (TSRequests has the client frames).
func TSTypes(p contract.Protocol) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("\nimport type { FrameKind } from './protocol.gen';\n")
	b.WriteString("\n// The shapes: objects that fields hold.\n")
	for _, s := range p.Shapes {
		fmt.Fprintf(&b, "\n/** %s. */\nexport interface %s {\n", upperFirst(s.Doc), s.Name)
		tsFields(&b, s.Fields)
		b.WriteString("}\n")
	}
	b.WriteString("\n// Server → client frames.\n")
	for _, k := range p.Frames {
		fmt.Fprintf(&b, "\n/** `%s`: %s. */\nexport interface %s {\n  type: typeof FrameKind.%s;\n", k.Kind, k.When, frameType(k.Kind), pascal(k.Kind))
		tsFields(&b, k.Fields)
		b.WriteString("}\n")
	}
	b.WriteString("\n/** Every frame the server sends. */\nexport type ServerFrame =")
	for _, k := range p.Frames {
		fmt.Fprintf(&b, "\n  | %s", frameType(k.Kind))
	}
	b.WriteString(";\n")
	return b.Bytes()
}

// TSRequests returns the page's TypeScript module of client frame types for
// p: one for every action, and their union.
func TSRequests(p contract.Protocol) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("\nimport type { Action } from './protocol.gen';\n")
	if shapes := requestShapes(p); len(shapes) > 0 {
		fmt.Fprintf(&b, "import type { %s } from './protocol.types.gen';\n", strings.Join(shapes, ", "))
	}
	b.WriteString("\n// Client → server frames.\n")
	for _, a := range p.Actions {
		fmt.Fprintf(&b, "\n/** `%s`: %s. */\nexport interface %s {\n  action: typeof Action.%s;\n", a.Name, a.Doc, requestType(a.Name), pascal(a.Name))
		tsFields(&b, a.Fields)
		b.WriteString("}\n")
	}
	b.WriteString("\n/** Every frame a client sends. */\nexport type ClientFrame =")
	for _, a := range p.Actions {
		fmt.Fprintf(&b, "\n  | %s", requestType(a.Name))
	}
	b.WriteString(";\n")
	return b.Bytes()
}

// fieldSpecs writes the field lists of the frame kinds and shapes.
func fieldSpecs(b *bytes.Buffer, p contract.Protocol) {
	b.WriteString("\n/** One field of a frame or shape, as parseFrame (protocol.ts) checks it. */\n" +
		"export interface FieldSpec {\n  readonly name: string;\n  readonly base: 'string' | 'number' | 'shape' | 'frame';\n" +
		"  /** The shape or frame kind of base shape or frame. */\n  readonly of?: string;\n  readonly list?: boolean;\n" +
		"  readonly required?: boolean;\n  /** What an absent or null field reads as. */\n  readonly default?: unknown;\n}\n")
	b.WriteString("\n/** The fields of every frame kind, besides \"type\". */\nexport const FRAME_FIELDS: Readonly<Record<FrameKindName, readonly FieldSpec[]>> = {\n")
	for _, k := range p.Frames {
		fmt.Fprintf(b, "  %s: [\n", tsKey(k.Kind))
		specs(b, k.Fields)
		b.WriteString("  ],\n")
	}
	b.WriteString("};\n\n/** The fields of every shape. */\nexport const SHAPE_FIELDS: Readonly<Record<string, readonly FieldSpec[]>> = {\n")
	for _, s := range p.Shapes {
		fmt.Fprintf(b, "  %s: [\n", tsKey(s.Name))
		specs(b, s.Fields)
		b.WriteString("  ],\n")
	}
	b.WriteString("};\n")
	if _, ok := p.Shape(contract.ShapeLimits); ok {
		fmt.Fprintf(b, "\n/** The bounds the protocol documents; the server's state frame overrides them. */\nexport const DEFAULT_LIMITS: %s = %s;\n",
			contract.ShapeLimits, jsonText(contract.DefaultLimits()))
	}
	fmt.Fprintf(b, "\n/** typing: the largest room told, how often a client may send it, how long a page shows it (ms). */\n"+
		"export const TYPING_MAX = %d;\nexport const TYPING_EVERY_MS = %d;\nexport const TYPING_SHOWN_MS = %d;\n",
		contract.TypingMax, contract.TypingEveryMs, contract.TypingShownMs)
	fmt.Fprintf(b, "\n/** edit: how long after sending its sender may edit a message (ms). */\nexport const EDIT_WINDOW_MS = %d;\n",
		contract.EditWindowMs)
}

func frameType(kind string) string     { return pascal(kind) + "Frame" }
func requestType(action string) string { return pascal(action) + "Request" }

// tsKey is a property name: bare when it is an identifier.
func tsKey(name string) string {
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return "'" + name + "'"
		}
	}
	return name
}

func tsFields(b *bytes.Buffer, fields []contract.Field) {
	for _, f := range fields {
		doc := f.Doc
		if l := f.Limit(); l != "" {
			doc += " (" + l + ")"
		}
		q := "?"
		if f.Required || f.Default != nil {
			q = ""
		}
		fmt.Fprintf(b, "  /** %s */\n  %s%s: %s;\n", strings.ReplaceAll(doc, "*/", "*\\/"), tsKey(f.Name), q, tsType(f.Type))
	}
}

func tsType(t contract.Type) string {
	var s string
	switch t.Base {
	case contract.BaseString:
		s = "string"
	case contract.BaseNumber:
		s = "number"
	case contract.BaseShape:
		s = t.Of
	case contract.BaseFrame:
		s = frameType(t.Of)
	}
	if t.List {
		s += "[]"
	}
	return s
}

func specs(b *bytes.Buffer, fields []contract.Field) {
	for _, f := range fields {
		fmt.Fprintf(b, "    { name: '%s', base: '%s'", f.Name, f.Type.Base)
		if f.Type.Of != "" {
			fmt.Fprintf(b, ", of: '%s'", f.Type.Of)
		}
		if f.Type.List {
			b.WriteString(", list: true")
		}
		if f.Required {
			b.WriteString(", required: true")
		}
		if f.Default != nil {
			fmt.Fprintf(b, ", default: %s", jsonText(f.Default))
		}
		b.WriteString(" },\n")
	}
}

// jsonText is v as JSON, which is a TypeScript literal too.
func jsonText(v any) string {
	j, err := json.Marshal(v)
	if err != nil {
		panic("protocolgen: a default is not JSON: " + err.Error())
	}
	return string(j)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// requestShapes are the shapes (and server frames) the client frames' fields
// hold, sorted: what the requests module imports from the types module.
func requestShapes(p contract.Protocol) []string {
	seen := map[string]bool{}
	for _, a := range p.Actions {
		for _, f := range a.Fields {
			switch f.Type.Base {
			case contract.BaseShape:
				seen[f.Type.Of] = true
			case contract.BaseFrame:
				seen[frameType(f.Type.Of)] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
