// Package importpicture draws which files of one Go package refer to
// identifiers declared in which other files of it: the "import picture" of a
// package's inside (issue 25). A file refers to another when it uses a
// package-level name, a method or a struct field declared there.
//
// A back-arrow is one of the two arrows between a pair of files that refer
// to each other (a→b and b→a): each such pair counts once. Files caught in
// such loops cannot be read one after the other, bottom up.
package importpicture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Picture is the file graph of one package (test files left out).
type Picture struct {
	Files []string            // base names, sorted
	Uses  map[string][]string // file -> files it refers to (sorted, itself left out)
}

// Load type-checks the package in dir (its non-test files) and returns its
// picture. Imports are read from the export data `go list -export` builds.
func Load(dir string) (*Picture, error) {
	exports, err := exportData(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		return nil, err
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("%s: want one package, found %d", dir, len(pkgs))
	}
	var files []*ast.File
	for _, p := range pkgs {
		for _, f := range p.Files {
			files = append(files, f)
		}
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	pkg, err := conf.Check(dir, fset, files, info)
	if err != nil {
		return nil, err
	}
	pic := &Picture{Uses: map[string][]string{}}
	edges := map[string]map[string]bool{}
	for _, f := range files {
		name := filepath.Base(fset.File(f.Pos()).Name())
		pic.Files = append(pic.Files, name)
		edges[name] = map[string]bool{}
	}
	sort.Strings(pic.Files)
	for id, obj := range info.Uses {
		if obj == nil || obj.Pkg() != pkg || !declaredAtTop(obj, pkg) {
			continue
		}
		from := filepath.Base(fset.Position(id.Pos()).Filename)
		to := filepath.Base(fset.Position(obj.Pos()).Filename)
		if from != to {
			edges[from][to] = true
		}
	}
	for from, tos := range edges {
		for to := range tos {
			pic.Uses[from] = append(pic.Uses[from], to)
		}
		sort.Strings(pic.Uses[from])
	}
	return pic, nil
}

// declaredAtTop: a package-level name, a method or a struct field.
func declaredAtTop(obj types.Object, pkg *types.Package) bool {
	switch o := obj.(type) {
	case *types.Var:
		if o.IsField() {
			return true
		}
	case *types.Func:
		if o.Type().(*types.Signature).Recv() != nil {
			return true
		}
	}
	return obj.Parent() == pkg.Scope()
}

func exportData(dir string) (map[string]string, error) {
	cmd := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}", ".")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -export: %v: %s", err, stderr.String())
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, file, ok := strings.Cut(line, "\t"); ok && file != "" {
			m[path] = file
		}
	}
	return m, nil
}

// Pairs returns the pairs of files that refer to each other: the back-arrows.
func (p *Picture) Pairs() [][2]string {
	var pairs [][2]string
	for _, a := range p.Files {
		for _, b := range p.Uses[a] {
			if a < b && p.refers(b, a) {
				pairs = append(pairs, [2]string{a, b})
			}
		}
	}
	return pairs
}

func (p *Picture) refers(a, b string) bool {
	for _, x := range p.Uses[a] {
		if x == b {
			return true
		}
	}
	return false
}

// Arrows is the number of arrows in the picture.
func (p *Picture) Arrows() int {
	n := 0
	for _, tos := range p.Uses {
		n += len(tos)
	}
	return n
}

// Loops returns the strongly connected components of more than one file:
// the groups in which every file reaches every other.
func (p *Picture) Loops() [][]string {
	index, low := map[string]int{}, map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var loops [][]string
	next := 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range p.Uses[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			if len(comp) > 1 {
				sort.Strings(comp)
				loops = append(loops, comp)
			}
		}
	}
	for _, f := range p.Files {
		if _, seen := index[f]; !seen {
			visit(f)
		}
	}
	sort.Slice(loops, func(i, j int) bool { return loops[i][0] < loops[j][0] })
	return loops
}

// Write prints the picture: each file and the files it refers to, then the
// back-arrows and the loops.
func (p *Picture) Write(w io.Writer) {
	for _, f := range p.Files {
		fmt.Fprintf(w, "%-14s -> %s\n", f, strings.Join(p.Uses[f], " "))
	}
	pairs := p.Pairs()
	fmt.Fprintf(w, "\n%d files, %d arrows, %d back-arrows (pairs of files that refer to each other):\n",
		len(p.Files), p.Arrows(), len(pairs))
	for _, pr := range pairs {
		fmt.Fprintf(w, "  %s <-> %s\n", pr[0], pr[1])
	}
	for _, l := range p.Loops() {
		fmt.Fprintf(w, "loop of %d files: %s\n", len(l), strings.Join(l, " "))
	}
}

// JSON is the picture as JSON, for scripts.
func (p *Picture) JSON() ([]byte, error) { return json.MarshalIndent(p, "", "  ") }
