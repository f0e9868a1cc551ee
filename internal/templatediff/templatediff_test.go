package templatediff

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var (
	specOnce sync.Once
	spec     Spec
	specErr  error
)

// testSpec is the pinned CDK CLI's resource specification (make test
// installs it first: scripts/deps.sh).
func testSpec(t *testing.T) Spec {
	t.Helper()
	specOnce.Do(func() { spec, specErr = LoadSpec("../../node_modules/aws-cdk/db.json.gz") })
	if specErr != nil {
		t.Fatal(specErr)
	}
	return spec
}

func fixture(t *testing.T, name string) Template {
	t.Helper()
	tpl, err := ReadTemplate(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// TestReviewerSeesWhatMattersInATemplateChange: each head template beside
// testdata/base.json (a synthesized-like stack: two tables with a global
// secondary index each, a user pool, a log group, a KMS key, the function,
// the $connect route and its authorizer) changes one thing; the reviewer
// gets exactly the counts and the callouts it deserves.
func TestReviewerSeesWhatMattersInATemplateChange(t *testing.T) {
	type callout struct {
		kind     Kind
		resource string
		says     string
	}
	for _, tc := range []struct {
		head                             string
		added, changed, removed, metaOnl []string
		callouts                         []callout
	}{
		{head: "metadata-only", metaOnl: []string{"CDKMetadata", "ConnectionsTable0A1B2C3D", "Function76856677"}},
		{head: "code-change", changed: []string{"Function76856677", "LogKey5A4B3C2D"}},
		{head: "key-schema", changed: []string{"MessagesTable1E2F3A4B"}, callouts: []callout{
			{KindReplaced, "MessagesTable1E2F3A4B", "a change of KeySchema needs a new resource; the new one starts empty and the old one is **deleted with its data** (UpdateReplacePolicy Delete)"},
			{KindKeySchema, "MessagesTable1E2F3A4B", "from pk (HASH), sk (RANGE) to pk (HASH), ts (RANGE)"},
		}},
		{head: "removed", added: []string{"HistoryTable7F6E5D4C"}, removed: []string{"Function76856677", "MessagesTable1E2F3A4B", "UserPool6BA7E5F2"}, callouts: []callout{
			{KindRemoved, "MessagesTable1E2F3A4B", "CloudFormation **deletes it and its data** (DeletionPolicy Delete). If it was renamed (the head has `HistoryTable7F6E5D4C` of this type)"},
			{KindRemoved, "UserPool6BA7E5F2", "leaves it in the account (DeletionPolicy Retain)"},
		}},
		{head: "policies", changed: []string{"ConnectionsTable0A1B2C3D"}, callouts: []callout{
			{KindPolicy, "ConnectionsTable0A1B2C3D", "DeletionPolicy Retain → **Delete**: removing it from the stack now **deletes its data**"},
			{KindPolicy, "ConnectionsTable0A1B2C3D", "UpdateReplacePolicy Retain → **Delete**: replacing it now **deletes its data**"},
		}},
		{head: "indexes", changed: []string{"ConnectionsTable0A1B2C3D", "MessagesTable1E2F3A4B"}, callouts: []callout{
			{KindIndex, "ConnectionsTable0A1B2C3D", "gains the global secondary index `byAccount` (account (HASH))"},
			{KindIndex, "ConnectionsTable0A1B2C3D", "changes the key schema or projection of its global secondary index `byRoom`"},
			{KindIndex, "MessagesTable1E2F3A4B", "loses the global secondary index `byTime` (pk (HASH), ts (RANGE))"},
		}},
		{head: "route-auth", changed: []string{"ApiconnectRoute3E4F5A6B"}, callouts: []callout{
			{KindRouteAuth, "ApiconnectRoute3E4F5A6B", "(route `$connect`): authorization CUSTOM (authorizer ConnectAuthorizerB2C3D4E5) → NONE: **anyone may use it without signing in**"},
		}},
		{head: "log-group-replaced", changed: []string{"FunctionLogGroup9C8D7E6F"}, callouts: []callout{
			{KindReplaced, "FunctionLogGroup9C8D7E6F", "a change of LogGroupName needs a new resource; the new one starts empty and the old one stays in the account, outside the stack (UpdateReplacePolicy Retain)"},
		}},
	} {
		t.Run(tc.head, func(t *testing.T) {
			r := Compare(testSpec(t), fixture(t, "base"), fixture(t, tc.head))
			for _, l := range []struct {
				what      string
				got, want []string
			}{{"added", r.Added, tc.added}, {"changed", r.Changed, tc.changed}, {"removed", r.Removed, tc.removed}, {"metadata only", r.MetadataOnly, tc.metaOnl}} {
				if !slices.Equal(l.got, l.want) && len(l.got)+len(l.want) > 0 {
					t.Errorf("%s %q, want %q", l.what, l.got, l.want)
				}
			}
			if len(r.Callouts) != len(tc.callouts) {
				t.Errorf("%d callouts, want %d: %+v", len(r.Callouts), len(tc.callouts), r.Callouts)
			}
			for _, w := range tc.callouts {
				if !slices.ContainsFunc(r.Callouts, func(c Callout) bool {
					return c.Kind == w.kind && c.Resource == w.resource && strings.Contains(c.Text, w.says)
				}) {
					t.Errorf("no %s callout on %s saying %q in %+v", w.kind, w.resource, w.says, r.Callouts)
				}
			}
			if len(r.Sections) != 0 {
				t.Errorf("sections %q changed, want none", r.Sections)
			}
		})
	}
}

// TestANewStackIsAllAdded: a stack the base lacks is compared with the
// empty template: everything is added, nothing called out.
func TestANewStackIsAllAdded(t *testing.T) {
	empty, _ := ReadTemplate("")
	r := Compare(testSpec(t), empty, fixture(t, "base"))
	if len(r.Added) != 9 || len(r.Changed)+len(r.Removed)+len(r.Callouts) != 0 || !slices.Equal(r.Sections, []string{"Description", "Outputs", "Parameters"}) {
		t.Errorf("%+v", r)
	}
}

func TestTemplateDiffCommand(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main([]string{"-spec", "../../node_modules/aws-cdk/db.json.gz", "testdata/base.json", "testdata/route-auth.json"}, &out, &errb)
	var r Result
	if code != 0 || json.Unmarshal(out.Bytes(), &r) != nil || len(r.Callouts) != 1 || r.Callouts[0].Kind != KindRouteAuth {
		t.Fatalf("exit %d, %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := Main([]string{"-spec", "missing.gz", "a", "b"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "scripts/deps.sh") {
		t.Errorf("a missing spec: exit %d, %q", code, errb.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, []byte("{"), 0o644)
	errb.Reset()
	if code := Main([]string{"-spec", "../../node_modules/aws-cdk/db.json.gz", "testdata/base.json", bad}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "not a template") {
		t.Errorf("a broken template: exit %d, %q", code, errb.String())
	}
}
