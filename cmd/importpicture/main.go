// Command importpicture prints which files of a Go package refer to
// identifiers declared in which other files of it, and the back-arrows (pairs
// of files referring to each other); the logic is internal/importpicture.
//
//	go run ./cmd/importpicture ./lambda/chat
package main

import (
	"fmt"
	"os"

	"github.com/groupchat/groupchat/internal/importpicture"
)

func main() {
	dir := "./lambda/chat"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	p, err := importpicture.Load(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "importpicture:", err)
		os.Exit(1)
	}
	p.Write(os.Stdout)
}
