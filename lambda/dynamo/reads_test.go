package dynamo

// docs/design.md's consistency table ("Every read, and what a stale answer
// can do") is held to the code here: every read request this package builds
// (GetItem, Query, Scan, BatchGetItem, TransactGetItems) must be listed by
// the function that builds it, with the right answer in its "consistent"
// column; a read that may be stale (an index, or no ConsistentRead) must
// also be listed under every exported method that reaches it, so the
// decision resting on it is written down next to why a stale answer is
// acceptable. A row naming a function that no longer exists fails too.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readInputs are the SDK inputs of requests that read items.
var readInputs = []string{"GetItemInput", "QueryInput", "ScanInput", "BatchGetItemInput", "TransactGetItemsInput"}

// readSite is one read request built in the code.
type readSite struct {
	fn         string // the function whose body builds it
	op         string // e.g. "QueryInput"
	index      bool   // IndexName is set
	consistent bool   // ConsistentRead: aws.Bool(true)
}

func (r readSite) stale() bool { return r.index || !r.consistent }

// readGraph is what the checker needs of a package: its read sites, which
// functions call which, and which functions exist.
type readGraph struct {
	sites   []readSite
	callers map[string][]string // callee -> callers
	funcs   map[string]bool
}

func parseReads(t *testing.T, fset *token.FileSet, files []*ast.File) readGraph {
	t.Helper()
	g := readGraph{callers: map[string][]string{}, funcs: map[string]bool{}}
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			name := fd.Name.Name
			g.funcs[name] = true
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if callee := calledName(n.Fun); callee != "" && !slices.Contains(g.callers[callee], name) {
						g.callers[callee] = append(g.callers[callee], name)
					}
				case *ast.CompositeLit:
					sel, ok := n.Type.(*ast.SelectorExpr)
					if !ok || !slices.Contains(readInputs, sel.Sel.Name) {
						return true
					}
					if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "dynamodb" {
						return true
					}
					s := readSite{fn: name, op: sel.Sel.Name}
					ast.Inspect(n, func(m ast.Node) bool {
						kv, ok := m.(*ast.KeyValueExpr)
						if !ok {
							return true
						}
						switch k, _ := kv.Key.(*ast.Ident); {
						case k == nil:
						case k.Name == "IndexName":
							s.index = true
						case k.Name == "ConsistentRead":
							s.consistent = isTrue(kv.Value)
						}
						return true
					})
					g.sites = append(g.sites, s)
				}
				return true
			})
		}
	}
	return g
}

// calledName is the name of a called function or method: f(...), s.f(...).
func calledName(fun ast.Expr) string {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

// isTrue reports aws.Bool(true) (or a bare true).
func isTrue(e ast.Expr) bool {
	if call, ok := e.(*ast.CallExpr); ok && len(call.Args) == 1 {
		e = call.Args[0]
	}
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "true"
}

// exportedReaching returns the exported functions from which fn is reached
// (fn itself when exported).
func (g readGraph) exportedReaching(fn string) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(string)
	walk = func(f string) {
		if seen[f] {
			return
		}
		seen[f] = true
		if ast.IsExported(f) {
			out = append(out, f)
			return
		}
		for _, c := range g.callers[f] {
			walk(c)
		}
	}
	walk(fn)
	slices.Sort(out)
	return out
}

// consistencyRow is one row of the table: the functions it names and its
// "consistent" column.
type consistencyRow struct {
	funcs      []string
	consistent string
}

// consistencySection is the heading of the table in docs/design.md.
const consistencySection = "## Every read, and what a stale answer can do"

var backticked = regexp.MustCompile("`([A-Za-z_][A-Za-z0-9_]*)`")

// parseTable reads the first table after the section heading. Its first
// column names functions in backticks; its third says "yes" or "no".
func parseTable(doc string) (map[string]consistencyRow, []string) {
	var problems []string
	rows := map[string]consistencyRow{}
	_, after, ok := strings.Cut(doc, "\n"+consistencySection+"\n")
	if !ok {
		return nil, []string{"docs/design.md has no section " + consistencySection}
	}
	inTable := false
	for line := range strings.SplitSeq(after, "\n") {
		if strings.HasPrefix(line, "## ") {
			break
		}
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 || strings.Contains(cells[0], "---") {
			continue
		}
		names := backticked.FindAllStringSubmatch(cells[0], -1)
		if len(names) == 0 {
			continue // the header
		}
		row := consistencyRow{consistent: strings.ToLower(strings.TrimSpace(cells[2]))}
		for _, n := range names {
			row.funcs = append(row.funcs, n[1])
		}
		for _, f := range row.funcs {
			if _, dup := rows[f]; dup {
				problems = append(problems, "the table lists `"+f+"` twice")
			}
			rows[f] = row
		}
	}
	return rows, problems
}

// checkReads returns what the table misses or gets wrong about g.
func checkReads(g readGraph, rows map[string]consistencyRow) []string {
	var problems []string
	want := func(fn, why string, consistent bool) {
		row, ok := rows[fn]
		if !ok {
			problems = append(problems, "`"+fn+"` "+why+" but docs/design.md's consistency table has no row for it")
			return
		}
		if got := strings.HasPrefix(row.consistent, "yes"); got != consistent {
			problems = append(problems, "the table's row for `"+fn+"` says consistent "+row.consistent+
				"; the code's read is "+map[bool]string{true: "consistent", false: "not consistent"}[consistent])
		}
	}
	for _, s := range g.sites {
		kind := s.op
		if s.index {
			kind += " of an index"
		} else if !s.consistent {
			kind += " without ConsistentRead"
		}
		want(s.fn, "builds a "+kind, !s.stale())
		if !s.stale() {
			continue
		}
		for _, e := range g.exportedReaching(s.fn) {
			if e != s.fn {
				want(e, "reaches "+s.fn+"'s "+kind, false)
			}
		}
	}
	for fn := range rows {
		if !g.funcs[fn] {
			problems = append(problems, "the table lists `"+fn+"`, which this package does not have")
		}
	}
	slices.Sort(problems)
	return problems
}

func parseDir(t *testing.T, fset *token.FileSet, dir string) []*ast.File {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

func TestEveryReadIsInTheConsistencyTable(t *testing.T) {
	fset := token.NewFileSet()
	g := parseReads(t, fset, parseDir(t, fset, "."))
	if len(g.sites) == 0 {
		t.Fatal("found no read request in the package: the checker is blind")
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows, problems := parseTable(string(doc))
	problems = append(problems, checkReads(g, rows)...)
	for _, p := range problems {
		t.Error(p)
	}
}

// The checker itself: an index read added to an unlisted method, behind a
// helper, is reported under both names.
func TestAnUnlistedIndexReadIsReported(t *testing.T) {
	src := `package dynamo
func (s *Store) Listed(ctx context.Context) { s.get(ctx, &dynamodb.GetItemInput{ConsistentRead: aws.Bool(true)}) }
func (s *Store) Peers(ctx context.Context) { s.byIndex(ctx) }
func (s *Store) byIndex(ctx context.Context) { s.db.Query(ctx, &dynamodb.QueryInput{IndexName: aws.String("x")}) }
func (s *Store) Loose(ctx context.Context) { s.db.GetItem(ctx, &dynamodb.GetItemInput{}) }
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := parseReads(t, fset, []*ast.File{f})
	rows, problems := parseTable("\n" + consistencySection + "\n\n| read | request | consistent |\n|---|---|---|\n" +
		"| `Listed` | GetItem | yes |\n| `Loose` | GetItem | yes |\n| `Gone` | Query | no |\n")
	problems = append(problems, checkReads(g, rows)...)
	for _, want := range []string{"`byIndex` builds a QueryInput of an index", "`Peers` reaches byIndex",
		"row for `Loose` says consistent yes", "lists `Gone`, which this package does not have"} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("not reported: %q; got %q", want, problems)
		}
	}
	if slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "`Listed`") }) {
		t.Errorf("a listed consistent read was reported: %q", problems)
	}
}
