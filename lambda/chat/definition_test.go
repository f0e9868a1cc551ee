package chat

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/internal/protocolgen"
)

// An action in contract's table without a handler here (or a handler for an
// action the table does not have) fails: the table is what the page, the load
// tool and docs/protocol.md are generated from.
func TestTheHandlerAcceptsExactlyTheDefinedActions(t *testing.T) {
	if err := dispatchMismatch(contract.Definition(), handlers); err != nil {
		t.Fatal(err)
	}
}

// Adding an action to the definition without its handler fails the check
// above, and so does a handler whose action left the definition.
func TestAnActionDefinedWithoutAHandlerFails(t *testing.T) {
	p := contract.Definition()
	p.Actions = append(p.Actions, contract.Action{Name: "react", Route: contract.RouteDefault, Doc: "react to a message"})
	if err := dispatchMismatch(p, handlers); err == nil {
		t.Error("a defined action without a handler passed")
	}
	p = contract.Definition()
	p.Actions = p.Actions[1:]
	if err := dispatchMismatch(p, handlers); err == nil {
		t.Error("a handler of an action the definition lacks passed")
	}
}

// Issue 25's done-when: an action added to the definition alone, without its
// handler, its docs section or the page's type (go generate not run), fails
// each of the checks that guard them: the dispatch check here, the docs
// generator (no section for it) and the drift check of the page's generated
// types (internal/protocolgen's TestTheGeneratedFilesAreCurrent).
func TestAnActionAddedToTheDefinitionAloneFails(t *testing.T) {
	p := contract.Definition()
	p.Actions = append(p.Actions, contract.Action{Name: "react", Route: contract.RouteDefault, Doc: "react to a message",
		Fields: []contract.Field{{Name: "ref", Type: contract.String, MaxChars: contract.RefMax}}})
	if dispatchMismatch(p, handlers) == nil {
		t.Error("no handler: the dispatch check passed")
	}
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, protocolgen.DocsFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protocolgen.Docs(doc, p); err == nil {
		t.Error("no docs section: the docs generator passed")
	}
	page, err := os.ReadFile(filepath.Join(root, protocolgen.TSRequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(page) == string(protocolgen.TSRequests(p)) || !strings.Contains(string(protocolgen.TSRequests(p)), "ReactRequest") {
		t.Error("no page type: the committed page types are what the changed definition generates")
	}
	if string(page) != string(protocolgen.TSRequests(contract.Definition())) {
		t.Error("the committed page types are not the definition's either")
	}
}

func dispatchMismatch[H any](p contract.Protocol, handlers map[string]H) error {
	var defined []string
	for _, a := range p.Actions {
		defined = append(defined, a.Name)
	}
	handled := slices.Collect(maps.Keys(handlers))
	slices.Sort(defined)
	slices.Sort(handled)
	if !slices.Equal(defined, handled) {
		return fmt.Errorf("the handler dispatches %v; contract defines %v", handled, defined)
	}
	return nil
}

// Every error code the handler can send is one of contract's table, spelled
// through its constant (never a string of its own), and every code of the
// table is sent somewhere: a code documented for the page that the server
// never sends, or a code the page has never heard of, fails.
func TestTheHandlerSendsExactlyTheDefinedErrorCodes(t *testing.T) {
	consts := contractConstants(t, "Code")
	values := map[string]bool{}
	for _, v := range consts {
		values[v] = true
	}
	for _, e := range contract.ErrorCodes() {
		if !values[e.Code] {
			t.Errorf("table code %q has no Code constant in contract", e.Code)
		}
	}
	used := map[string]bool{}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "contract" && strings.HasPrefix(n.Sel.Name, "Code") {
					v, ok := consts[n.Sel.Name]
					if !ok {
						t.Errorf("%s: contract.%s is not a code constant", fset.Position(n.Pos()), n.Sel.Name)
					}
					used[v] = true
				}
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); n.Kind == token.STRING && err == nil && values[s] {
					t.Errorf("%s: the code %q spelled as a string; use contract's constant", fset.Position(n.Pos()), s)
				}
			}
			return true
		})
	}
	for _, e := range contract.ErrorCodes() {
		if !used[e.Code] {
			t.Errorf("contract defines %q but the handler never sends it", e.Code)
		}
		delete(used, e.Code)
	}
	for c := range used {
		t.Errorf("the handler sends %q, which contract's table lacks", c)
	}
}

// contractConstants reads the string constants of contract (its .go files) whose
// names start with prefix: name → value.
func contractConstants(t *testing.T, prefix string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "contract", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		addConstants(f, prefix, consts)
	}
	return consts
}

func addConstants(f *ast.File, prefix string, consts map[string]string) {
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, prefix) || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
					consts[n.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
	}
}

// Every frame kind of contract's table is a Kind of the handler, taken from
// the table's constant; a Kind spelled as a string of its own is a record's
// kind only (gone, replaced), never one of the table's.
func TestTheHandlerKindsAreTheDefinedFrameKinds(t *testing.T) {
	frames := map[string]bool{}
	for _, k := range contract.FrameKinds() {
		frames[k.Kind] = true
	}
	kinds := map[string]string{} // the handler's Kind constants: name → contract.Frame* or a literal
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				if typ, ok := vs.Type.(*ast.Ident); !ok || typ.Name != "Kind" {
					continue
				}
				for i, n := range vs.Names {
					switch v := vs.Values[i].(type) {
					case *ast.SelectorExpr:
						kinds[n.Name] = "contract." + v.Sel.Name
					case *ast.BasicLit:
						s, _ := strconv.Unquote(v.Value)
						if frames[s] {
							t.Errorf("%s: %s spells the frame kind %q; use contract's constant", name, n.Name, s)
						}
						kinds[n.Name] = s
					}
				}
			}
		}
	}
	used := map[string]bool{}
	for _, v := range kinds {
		used[v] = true
	}
	byValue := map[string]string{}
	for name, v := range contractConstants(t, "Frame") {
		byValue[v] = name
	}
	for k := range frames {
		if c, ok := byValue[k]; !ok || !used["contract."+c] {
			t.Errorf("contract defines the frame kind %q but the handler has no Kind of its constant", k)
		}
	}
}
