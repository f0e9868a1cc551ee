package ddbproxy

// The proxy answers as DynamoDB on AWS does by default in every test that
// runs on it (issue 21; docs/local.md, "As unkind as AWS"). This guard
// keeps it so across the repository:
//
//   - a test sets its faults with Proxy.Inject, on top of the defaults,
//     and Restore returns to them: *Proxy has no other exported method that
//     takes Faults (the SetFaults that replaced the whole set, turning
//     AWS's lag, staleness and conflicts off for the test and "restoring"
//     to none, must not come back);
//   - outside this package, a proxy is not started with a literal
//     ddbproxy.Faults{…} that is not an opt-out (AWSLike, a Deterministic
//     one, or a stack's configured faults);
//   - every opt-out says why: Deterministic("…"), Faults{Deterministic:
//     "…"} or f.Deterministic = "…" with a literal reason of three words
//     or more (or a constant holding one), so `grep -rn Deterministic`
//     lists every test that runs kinder than AWS, with its reason.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// injectors are *Proxy's exported methods allowed to take Faults.
var injectors = map[string]bool{"Inject": true}

func TestProxyHasNoMethodThatReplacesTheFaultsButInject(t *testing.T) {
	fset := token.NewFileSet()
	for _, f := range parseDir(t, fset, ".", false) {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || !fd.Name.IsExported() || injectors[fd.Name.Name] || recvName(fd) != "Proxy" {
				continue
			}
			for _, p := range fd.Type.Params.List {
				if id, ok := p.Type.(*ast.Ident); ok && id.Name == "Faults" {
					t.Errorf("%s: (*Proxy).%s takes Faults: a test's faults go through Inject, on top of the defaults "+
						"(an opt-out with Deterministic(reason)); a method that replaces them would let a test run kinder than AWS unsaid",
						fset.Position(fd.Pos()), fd.Name.Name)
				}
			}
		}
	}
}

func TestEveryOptOutOfTheAWSLikeFaultsSaysWhy(t *testing.T) {
	root := filepath.Join("..", "..")
	here := filepath.Join(root, "local", "ddbproxy")
	fset := token.NewFileSet()
	optOuts := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", ".git", "testdata", "cdk.out", "frontend":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(src), "Faults") && !strings.Contains(string(src), "Deterministic") {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		own := filepath.Clean(filepath.Dir(path)) == here
		if own && !strings.HasSuffix(path, "_test.go") {
			return nil // Deterministic itself
		}
		consts := dirConsts(t, fset, filepath.Dir(path))
		reason := func(at token.Pos, e ast.Expr) {
			optOuts++
			s, ok := literal(e, consts)
			if !ok || len(strings.Fields(s)) < 3 {
				t.Errorf("%s: an opt-out of the AWS-like faults must say why in a literal of three words or more, not %s",
					fset.Position(at), render(e))
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				// Another stand-in's own opt-out constructor (sqslocal's):
				// it passes its caller's reason on; its callers are checked.
				if n.Recv == nil && n.Name.Name == "Deterministic" && !strings.HasSuffix(path, "_test.go") {
					return false
				}
			case *ast.CallExpr:
				if isPkgSel(n.Fun, "Deterministic") || own && isIdent(n.Fun, "Deterministic") {
					if len(n.Args) == 1 {
						reason(n.Pos(), n.Args[0])
					}
				}
				if (isSel(n.Fun, "ddbproxy", "Start") || own && isIdent(n.Fun, "Start")) && len(n.Args) == 2 && !own {
					if lit, ok := n.Args[1].(*ast.CompositeLit); ok && !hasKey(lit, "Deterministic") {
						t.Errorf("%s: a proxy started with %s answers kinder than AWS unsaid: start it with ddbproxy.AWSLike() "+
							"(or a stack's configured faults), or with ddbproxy.Deterministic(\"why\")", fset.Position(n.Pos()), render(lit))
					}
				}
			case *ast.CompositeLit:
				for _, el := range n.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Deterministic") {
						reason(kv.Pos(), kv.Value)
					}
				}
			case *ast.AssignStmt:
				for i, l := range n.Lhs {
					if sel, ok := l.(*ast.SelectorExpr); ok && sel.Sel.Name == "Deterministic" && i < len(n.Rhs) {
						reason(n.Pos(), n.Rhs[i])
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d opt-outs, each with its reason", optOuts)
}

func parseDir(t *testing.T, fset *token.FileSet, dir string, tests bool) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if !tests && strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

var constCache = map[string]map[string]ast.Expr{}

// dirConsts are the constants declared in a directory's Go files.
func dirConsts(t *testing.T, fset *token.FileSet, dir string) map[string]ast.Expr {
	if c, ok := constCache[dir]; ok {
		return c
	}
	c := map[string]ast.Expr{}
	for _, f := range parseDir(t, fset, dir, true) {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						c[n.Name] = vs.Values[i]
					}
				}
			}
		}
	}
	constCache[dir] = c
	return c
}

// literal is a string literal, a sum of them, or a constant holding one.
func literal(e ast.Expr, consts map[string]ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		a, ok1 := literal(e.X, consts)
		b, ok2 := literal(e.Y, consts)
		return a + b, ok1 && ok2 && e.Op == token.ADD
	case *ast.ParenExpr:
		return literal(e.X, consts)
	case *ast.Ident:
		if v, ok := consts[e.Name]; ok {
			return literal(v, nil)
		}
	}
	return "", false
}

func recvName(fd *ast.FuncDecl) string {
	typ := fd.Recv.List[0].Type
	if st, ok := typ.(*ast.StarExpr); ok {
		typ = st.X
	}
	id, _ := typ.(*ast.Ident)
	if id == nil {
		return ""
	}
	return id.Name
}

func isSel(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == name && isIdent(sel.X, pkg)
}

// isPkgSel says whether e is name selected from any package (ddbproxy's,
// sqslocal's): every stand-in's opt-out must say why.
func isPkgSel(e ast.Expr, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Obj == nil // a package, not a local variable
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func hasKey(lit *ast.CompositeLit, key string) bool {
	for _, el := range lit.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok && isIdent(kv.Key, key) {
			return true
		}
	}
	return false
}

func render(e ast.Expr) string {
	var b strings.Builder
	switch e := e.(type) {
	case *ast.CompositeLit:
		b.WriteString("a literal Faults")
		if len(e.Elts) == 0 {
			b.WriteString("{}")
		}
	case *ast.BasicLit:
		b.WriteString(e.Value)
	default:
		b.WriteString("an expression that is not a literal")
	}
	return b.String()
}
