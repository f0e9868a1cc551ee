// Package importpicture draws which files of one Go package refer to
// identifiers declared in which other files of it: the "import picture" of a
// package's inside (issue 25). A file refers to another when it uses a
// package-level name, a method or a struct field declared there.
//
// Two counts say how far the files are from reading bottom up, each file
// after the files it refers to. Mutual pairs: pairs of files that refer to
// each other (a→b and b→a), each pair once. Back-arrows: lay the files out
// in the order that makes the fewest arrows point forward, to a file not
// read yet; those arrows are the back-arrows (a minimum feedback arc set,
// found exactly by dynamic programming over the subsets of files, so for at
// most 26 files).
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
	"math/bits"
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
	// Names says which names make each arrow: Names[from][to], sorted.
	Names map[string]map[string][]string `json:"-"`
}

// Load type-checks the package in dir (its non-test files) and returns its
// picture. Imports are read from the export data `go list -export` builds.
func Load(dir string) (*Picture, error) {
	exports, err := exportData(dir)
	if err != nil {
		return nil, err
	}
	srcs, err := goFiles(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, n := range srcs {
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, 0)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
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
	pic := &Picture{Uses: map[string][]string{}, Names: map[string]map[string][]string{}}
	edges := map[string]map[string]bool{}
	names := map[string]map[string]map[string]bool{}
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
			if names[from] == nil {
				names[from] = map[string]map[string]bool{}
			}
			if names[from][to] == nil {
				names[from][to] = map[string]bool{}
			}
			names[from][to][obj.Name()] = true
		}
	}
	for from, tos := range names {
		pic.Names[from] = map[string][]string{}
		for to, ns := range tos {
			for n := range ns {
				pic.Names[from][to] = append(pic.Names[from][to], n)
			}
			sort.Strings(pic.Names[from][to])
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

// goFiles lists the package's non-test Go files in dir as the build sees
// them (build tags applied), by go list.
func goFiles(dir string) ([]string, error) {
	cmd := exec.Command("go", "list", "-f", "{{range .GoFiles}}{{.}}\n{{end}}", ".")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, stderr.String())
	}
	return strings.Fields(string(out)), nil
}

// Pairs returns the pairs of files that refer to each other.
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

// Order returns the files in an order that makes the fewest arrows point
// forward (from a file to one after it), and those arrows.
func (p *Picture) Order() (order []string, back [][2]string, err error) {
	n := len(p.Files)
	if n > 26 {
		return nil, nil, fmt.Errorf("%d files: the exact order is computed for at most 26", n)
	}
	idx := map[string]int{}
	for i, f := range p.Files {
		idx[f] = i
	}
	uses := make([]uint32, n)
	for i, f := range p.Files {
		for _, t := range p.Uses[f] {
			uses[i] |= 1 << idx[t]
		}
	}
	// cost[S]: the fewest forward arrows among the files of S laid out
	// first, in some order; placing v after S adds its arrows to files
	// outside S and v.
	full := uint32(1)<<n - 1
	cost := make([]int32, 1<<n)
	last := make([]int8, 1<<n)
	for S := uint32(1); S <= full; S++ {
		cost[S] = 1 << 30
		for v := 0; v < n; v++ {
			if S&(1<<v) == 0 {
				continue
			}
			prev := S &^ (1 << v)
			c := cost[prev] + int32(bits.OnesCount32(uses[v]&^S))
			if c < cost[S] {
				cost[S], last[S] = c, int8(v)
			}
		}
	}
	for S := full; S != 0; {
		v := int(last[S])
		order = append([]string{p.Files[v]}, order...)
		S &^= 1 << v
	}
	placed := map[string]int{}
	for i, f := range order {
		placed[f] = i
	}
	for _, f := range order {
		for _, t := range p.Uses[f] {
			if placed[t] > placed[f] {
				back = append(back, [2]string{f, t})
			}
		}
	}
	return order, back, nil
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

// Write prints the picture: each file and the files it refers to, the
// mutual pairs, the back-arrows and the loops.
func (p *Picture) Write(w io.Writer) {
	for _, f := range p.Files {
		fmt.Fprintf(w, "%-14s -> %s\n", f, strings.Join(p.Uses[f], " "))
	}
	pairs := p.Pairs()
	fmt.Fprintf(w, "\n%d files, %d arrows, %d mutual pairs (files that refer to each other):\n",
		len(p.Files), p.Arrows(), len(pairs))
	for _, pr := range pairs {
		fmt.Fprintf(w, "  %s <-> %s\n", pr[0], pr[1])
	}
	if order, back, err := p.Order(); err != nil {
		fmt.Fprintln(w, err)
	} else {
		fmt.Fprintf(w, "bottom-up order with the fewest back-arrows: %s\n%d back-arrows:\n",
			strings.Join(order, " "), len(back))
		for _, b := range back {
			fmt.Fprintf(w, "  %s -> %s (%s)\n", b[0], b[1], strings.Join(p.Names[b[0]][b[1]], ", "))
		}
	}
	for _, l := range p.Loops() {
		fmt.Fprintf(w, "loop of %d files: %s\n", len(l), strings.Join(l, " "))
	}
}

// JSON is the picture as JSON, for scripts.
func (p *Picture) JSON() ([]byte, error) { return json.MarshalIndent(p, "", "  ") }
