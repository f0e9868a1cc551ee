package templatediff

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
)

// Main is cmd/templatediff: it compares two template files and writes the
// Result as JSON. Exit status 0, or 2 when it cannot compare.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("templatediff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: templatediff -spec node_modules/aws-cdk/db.json.gz BASE.template.json HEAD.template.json\n\n"+
			"Writes, as JSON, the resources added, changed (Metadata-only changes apart) and removed, and the\n"+
			"callouts a reviewer must see (scripts/pr-summary.sh). An empty BASE (\"\") is the empty template.\n\n")
		fs.PrintDefaults()
	}
	specPath := fs.String("spec", "node_modules/aws-cdk/db.json.gz", "the CDK CLI's resource specification")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return 2
	}
	spec, err := LoadSpec(*specPath)
	if err != nil {
		fmt.Fprintln(stderr, "templatediff:", err)
		return 2
	}
	var t [2]Template
	for i, path := range fs.Args() {
		if t[i], err = ReadTemplate(path); err != nil {
			fmt.Fprintf(stderr, "templatediff: %s: %v\n", path, err)
			return 2
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(Compare(spec, t[0], t[1])); err != nil {
		fmt.Fprintln(stderr, "templatediff:", err)
		return 2
	}
	return 0
}
