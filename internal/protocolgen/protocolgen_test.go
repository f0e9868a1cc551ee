package protocolgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
)

// The committed frontend/src/protocol.gen.ts and docs/protocol.md tables are
// what contract/protocol.go generates: change the definition without running
// `go generate ./contract` and this fails.
func TestTheGeneratedFilesAreCurrent(t *testing.T) {
	root := filepath.Join("..", "..")
	files, err := Generated(root)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s is not what contract/protocol.go generates; run `go generate ./contract`", name)
		}
	}
}

// Every action, code and frame kind of the definition is in the page's module and in the
// docs; a table without its markers is an error, not a guess.
func TestEveryActionCodeAndFrameKindIsInThePageModuleAndTheDocs(t *testing.T) {
	ts := string(TS())
	tables := Tables()
	for _, a := range contract.Actions() {
		if !strings.Contains(ts, "'"+a.Name+"'") || !strings.Contains(tables["actions"], "| `"+a.Name+"` | `"+a.Route+"` |") {
			t.Errorf("action %q missing", a.Name)
		}
	}
	for _, e := range contract.ErrorCodes() {
		if !strings.Contains(ts, "'"+e.Code+"'") || !strings.Contains(tables["error-codes"], "| `"+e.Code+"` |") {
			t.Errorf("code %q missing", e.Code)
		}
	}
	for _, k := range contract.FrameKinds() {
		if !strings.Contains(ts, "'"+k.Kind+"'") || !strings.Contains(tables["frame-kinds"], "| `"+k.Kind+"` |") {
			t.Errorf("frame kind %q missing", k.Kind)
		}
	}
	if _, err := Docs([]byte("# no markers\n")); err == nil {
		t.Fatal("Docs accepted a document without markers")
	}
}
