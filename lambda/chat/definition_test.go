package chat

import (
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
)

// An action in contract's table without a handler here (or a handler for an
// action the table does not have) fails: the table is what the page, the load
// tool and docs/protocol.md are generated from.
func TestTheHandlerAcceptsExactlyTheDefinedActions(t *testing.T) {
	var defined []string
	for _, a := range contract.Actions() {
		defined = append(defined, a.Name)
	}
	handled := slices.Collect(maps.Keys(handlers))
	slices.Sort(defined)
	slices.Sort(handled)
	if !slices.Equal(defined, handled) {
		t.Fatalf("the handler dispatches %v; contract defines %v", handled, defined)
	}
}

// Every error code the handler can send is one of contract's table, spelled
// through its constant (never a string of its own), and every code of the
// table is sent somewhere: a code documented for the page that the server
// never sends, or a code the page has never heard of, fails.
func TestTheHandlerSendsExactlyTheDefinedErrorCodes(t *testing.T) {
	consts := codeConstants(t)
	values := map[string]bool{}
	for _, v := range consts {
		values[v] = true
	}
	for _, e := range contract.ErrorCodes() {
		if !values[e.Code] {
			t.Errorf("table code %q has no Code constant in contract/protocol.go", e.Code)
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

// codeConstants reads contract/protocol.go's Code constants: name → value.
func codeConstants(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "contract", "protocol.go"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "protocol.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, "Code") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
					consts[n.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
	}
	return consts
}
