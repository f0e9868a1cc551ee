// Command templatediff compares a stack's base and head templates for the
// pull request's summary (scripts/pr-summary.sh): real changes apart from
// Metadata-only ones, and callouts for stateful replacements and removals,
// DeletionPolicy and UpdateReplacePolicy changes, global secondary indexes,
// key schemas and route authorization. The logic is internal/templatediff.
package main

import (
	"os"

	"github.com/groupchat/groupchat/internal/templatediff"
)

func main() {
	os.Exit(templatediff.Main(os.Args[1:], os.Stdout, os.Stderr))
}
