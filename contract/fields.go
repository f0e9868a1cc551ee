package contract

import (
	"slices"
	"strconv"
	"strings"
)

// The fields of the protocol's frames: what each action's frame and each
// frame kind carries, with its JSON type and its limits. The tables are in
// protocol.go (actions) and frames.go (frame kinds, shapes).

// Base is the JSON type of a field's value (of each item, for a list).
type Base string

// The bases.
const (
	BaseString Base = "string"
	BaseNumber Base = "number"
	// BaseShape is an object of one of the named shapes (Shapes).
	BaseShape Base = "shape"
	// BaseFrame is a frame of one kind, "type" included (a state's history).
	BaseFrame Base = "frame"
)

// Type is a field's JSON type.
type Type struct {
	Base Base
	// Of names the shape or the frame kind of BaseShape and BaseFrame.
	Of string
	// List: the field is a JSON array of values of the type.
	List bool
}

// The types fields use.
var (
	String  = Type{Base: BaseString}
	Number  = Type{Base: BaseNumber}
	Strings = ListOf(String)
)

// ListOf is a list of t.
func ListOf(t Type) Type { t.List = true; return t }

// ShapeOf is an object of the named shape.
func ShapeOf(shape string) Type { return Type{Base: BaseShape, Of: shape} }

// FrameOf is a frame of the kind.
func FrameOf(kind string) Type { return Type{Base: BaseFrame, Of: kind} }

// Field is one field of a frame or of a shape.
type Field struct {
	Name string
	Type Type
	// Required: the sender always sends it. A client frame without it is
	// answered with missing_field; a server frame without it is malformed.
	// Every other field may be absent (omitted when empty, or not sent by
	// a server from before it).
	Required bool
	// Default (optional fields only) is what an absent or null field reads
	// as: the server sends it, but older servers or empty lists may not.
	Default any
	// MaxChars bounds a string in Unicode code points, MaxBytes in UTF-8
	// bytes, MaxItems a list's length; 0 is no bound of the protocol's.
	MaxChars, MaxBytes, MaxItems int
	// Doc says what the field is, one line (docs/protocol.md's tables).
	Doc string
}

// req and opt make the tables' entries short: a required and an optional field.
func req(name string, t Type, doc string) Field {
	return Field{Name: name, Type: t, Required: true, Doc: doc}
}
func opt(name string, t Type, doc string) Field { return Field{Name: name, Type: t, Doc: doc} }

// chars, bytes, items and or return the field with a bound or a default.
func (f Field) chars(n int) Field   { f.MaxChars = n; return f }
func (f Field) bytes(n int) Field   { f.MaxBytes = n; return f }
func (f Field) items(n int) Field   { f.MaxItems = n; return f }
func (f Field) or(value any) Field  { f.Default = value; return f }
func (f Field) docf(s string) Field { f.Doc = s; return f }

// Limit says the field's bounds in words ("at most 32 characters and 64
// bytes"), "" when it has none.
func (f Field) Limit() string {
	var parts []string
	if f.MaxChars > 0 {
		parts = append(parts, strconv.Itoa(f.MaxChars)+" characters")
	}
	if f.MaxBytes > 0 {
		parts = append(parts, strconv.Itoa(f.MaxBytes)+" bytes of UTF-8")
	}
	if f.MaxItems > 0 {
		parts = append(parts, strconv.Itoa(f.MaxItems)+" items")
	}
	if len(parts) == 0 {
		return ""
	}
	return "at most " + strings.Join(parts, " and ")
}

// Shape is a named object type that fields can hold (a state's limits).
type Shape struct {
	Name   string
	Doc    string
	Fields []Field
}

// Protocol is the whole definition: what the handler, the page, the load
// tool and docs/protocol.md are derived from and checked against.
type Protocol struct {
	Actions []Action
	Codes   []ErrorCode
	Frames  []FrameKind
	Shapes  []Shape
}

// Definition returns a copy of the protocol's definition. Tests change their
// copy to show that an entry without its handler, docs or page type fails.
func Definition() Protocol {
	return Protocol{Actions: Actions(), Codes: ErrorCodes(), Frames: FrameKinds(), Shapes: Shapes()}
}

// Shape returns the shape of the name.
func (p Protocol) Shape(name string) (Shape, bool) {
	i := slices.IndexFunc(p.Shapes, func(s Shape) bool { return s.Name == name })
	if i < 0 {
		return Shape{}, false
	}
	return p.Shapes[i], true
}

// Frame returns the frame kind of the name.
func (p Protocol) Frame(kind string) (FrameKind, bool) {
	i := slices.IndexFunc(p.Frames, func(k FrameKind) bool { return k.Kind == kind })
	if i < 0 {
		return FrameKind{}, false
	}
	return p.Frames[i], true
}
