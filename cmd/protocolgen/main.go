// Command protocolgen writes the page's protocol constants and the tables of
// docs/protocol.md from contract/protocol.go (internal/protocolgen).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/groupchat/groupchat/internal/protocolgen"
)

func main() {
	root := flag.String("root", ".", "the repository's root")
	flag.Parse()
	if err := protocolgen.Write(*root); err != nil {
		fmt.Fprintln(os.Stderr, "protocolgen:", err)
		os.Exit(1)
	}
}
