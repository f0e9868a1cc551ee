package protocolgen

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
)

var root = filepath.Join("..", "..")

// The committed frontend/src/protocol.gen.ts, protocol.types.gen.ts and
// protocol.requests.gen.ts, contract/protocol_gen.go, requests_gen.go and docs/protocol.md tables are what contract's definition generates: change
// the definition without running `go generate ./contract` and this fails.
func TestTheGeneratedFilesAreCurrent(t *testing.T) {
	for _, name := range drift(t, contract.Definition()) {
		t.Errorf("%s is not what contract's definition generates; run `go generate ./contract`", name)
	}
}

// drift returns the generated files whose committed content differs from what p generates.
func drift(t *testing.T, p contract.Protocol) []string {
	t.Helper()
	files, err := Generated(root, p)
	if err != nil {
		t.Fatal(err)
	}
	var differ []string
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			differ = append(differ, name)
		}
	}
	slices.Sort(differ)
	return differ
}

// Every action, code and frame kind of the definition is in the page's module,
// the Go types and the docs, each action and frame kind with a type and a
// table of its fields.
func TestEveryActionCodeAndFrameKindIsInThePageModuleAndTheDocs(t *testing.T) {
	p := contract.Definition()
	ts, gotypes := string(TS(p))+string(TSTypes(p))+string(TSRequests(p)), string(Go(p))+string(GoRequests(p))
	tables := Tables(p)
	for _, a := range p.Actions {
		if !strings.Contains(ts, "'"+a.Name+"'") || !strings.Contains(ts, "export interface "+requestType(a.Name)+" {") ||
			!strings.Contains(gotypes, "type "+requestType(a.Name)+" struct") ||
			!strings.Contains(tables["actions"], "| `"+a.Name+"` | `"+a.Route+"` |") || tables["action "+a.Name] == "" {
			t.Errorf("action %q missing", a.Name)
		}
		for _, f := range a.Fields {
			if !strings.Contains(tables["action "+a.Name], "| `"+f.Name+"` |") {
				t.Errorf("field %q of action %q missing from its table", f.Name, a.Name)
			}
		}
	}
	for _, e := range p.Codes {
		if !strings.Contains(ts, "'"+e.Code+"'") || !strings.Contains(tables["error-codes"], "| `"+e.Code+"` |") {
			t.Errorf("code %q missing", e.Code)
		}
	}
	for _, k := range p.Frames {
		if !strings.Contains(ts, "'"+k.Kind+"'") || !strings.Contains(ts, "export interface "+frameType(k.Kind)+" {") ||
			!strings.Contains(gotypes, "type "+frameType(k.Kind)+" struct") ||
			!strings.Contains(tables["frame-kinds"], "| `"+k.Kind+"` |") || tables["frame "+k.Kind] == "" {
			t.Errorf("frame kind %q missing", k.Kind)
		}
	}
	if _, err := Docs([]byte("# no markers\n"), p); err == nil {
		t.Fatal("Docs accepted a document without markers")
	}
}

// How adding an action (or a frame kind) is held to the rest: an entry added
// to the definition without its docs section fails (no markers for its field
// table), the committed page module and Go types are then not what it
// generates (its page type is missing), and a docs section of an action the
// definition no longer has fails too.
func TestAnEntryWithoutItsDocsOrPageTypeFails(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, DocsFile))
	if err != nil {
		t.Fatal(err)
	}
	p := contract.Definition()
	p.Actions = append(p.Actions, contract.Action{Name: "react", Route: contract.RouteDefault, Doc: "react to a message",
		Fields: []contract.Field{{Name: "ref", Type: contract.String}}})
	if _, err := Docs(doc, p); err == nil || !strings.Contains(err.Error(), "action react") {
		t.Errorf("Docs with an action that docs/protocol.md has no section for: %v, want an error naming it", err)
	}
	if ts := string(TSRequests(p)); !strings.Contains(ts, "export interface ReactRequest {") || !strings.Contains(ts, "| ReactRequest") {
		t.Error("the page module has no frame type of the new action")
	}
	files := map[string]bool{}
	for name, content := range map[string][]byte{TSFile: TS(p), TSRequestsFile: TSRequests(p), GoRequestsFile: GoRequests(p)} {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(got) == string(content)
	}
	if files[TSFile] || files[TSRequestsFile] || files[GoRequestsFile] {
		t.Errorf("the committed generated files (current: %v) already have an action the definition lacks", files)
	}

	p = contract.Definition()
	p.Frames = append(p.Frames, contract.FrameKind{Kind: "reaction", When: "someone reacted to a message"})
	if _, err := Docs(doc, p); err == nil || !strings.Contains(err.Error(), "frame reaction") {
		t.Errorf("Docs with a frame kind that docs/protocol.md has no section for: %v, want an error naming it", err)
	}

	p = contract.Definition()
	p.Actions = slices.DeleteFunc(p.Actions, func(a contract.Action) bool { return a.Name == contract.ActionPing })
	if _, err := Docs(doc, p); err == nil || !strings.Contains(err.Error(), "action ping") {
		t.Errorf("Docs with a section of an action the definition lacks: %v, want an error naming it", err)
	}
}

// docs/protocol.md documents exactly the definition's actions and frame kinds:
// a `### `name“ section under "Client → server" for every action and under
// "Server → client" for every frame kind, and no section of anything else.
func TestTheDocsSectionsAreTheDefinedActionsAndFrameKinds(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, DocsFile))
	if err != nil {
		t.Fatal(err)
	}
	p := contract.Definition()
	var actions, frames []string
	for _, a := range p.Actions {
		actions = append(actions, a.Name)
	}
	for _, k := range p.Frames {
		frames = append(frames, k.Kind)
	}
	got := sections(string(doc))
	for part, want := range map[string][]string{"Client → server": actions, "Server → client": frames} {
		slices.Sort(want)
		if !slices.Equal(got[part], want) {
			t.Errorf("%s of %s documents %v; the definition has %v", part, DocsFile, got[part], want)
		}
	}
}

// The hand-written *Limits* section of docs/protocol.md says every bound of
// the actions' fields with the definition's number, and names only error
// codes of the definition: change a limit or a code in the definition and
// leave the prose behind, and this fails.
func TestTheLimitsSectionSaysTheDefinedLimits(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, DocsFile))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "\n## Limits\n")
	section, _, _ := strings.Cut(rest, "\n## ")
	if section == "" {
		t.Fatalf("%s has no ## Limits section", DocsFile)
	}
	// Its table's last column names error codes: each one the definition's.
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if !strings.HasPrefix(line, "|") || len(cells) < 3 {
			continue
		}
		for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(cells[len(cells)-1], -1) {
			if !contract.IsErrorCode(m[1]) {
				t.Errorf("%s's Limits table names the code %q, which the definition lacks", DocsFile, m[1])
			}
		}
	}
	for _, a := range contract.Actions() {
		for _, f := range a.Fields {
			for _, n := range []int{f.MaxChars, f.MaxBytes, f.MaxItems} {
				if n > 0 && !regexp.MustCompile(`\b`+strconv.Itoa(n)+`\b`).MatchString(section) {
					t.Errorf("%s's Limits section never says %d, a limit of %s's %q", DocsFile, n, a.Name, f.Name)
				}
			}
		}
	}
}

var heading = regexp.MustCompile("^### `([^`]+)`(?: / `([^`]+)`)?")

// sections returns the names of the ### sections of each ## part, sorted.
func sections(doc string) map[string][]string {
	out := map[string][]string{}
	part := ""
	for _, line := range strings.Split(doc, "\n") {
		if p, ok := strings.CutPrefix(line, "## "); ok {
			part = p
		}
		if m := heading.FindStringSubmatch(line); m != nil {
			for _, n := range m[1:] {
				if n != "" {
					out[part] = append(out[part], n)
				}
			}
		}
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out
}
