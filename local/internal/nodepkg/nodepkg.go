// Package nodepkg finds the repository's pinned npm packages (dynalite,
// cognito-local) that the local stack runs as child processes of Node.js.
package nodepkg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotInstalled means the package is not in node_modules: `make deps`
// (npm ci at the repository root) installs it.
var ErrNotInstalled = errors.New("not installed: run `make deps` (npm ci at the repository root)")

// Root returns the directory whose node_modules holds pkg: root itself when
// given, else the nearest directory above the working directory that has it.
func Root(root, pkg string) (string, error) {
	if root != "" {
		if has(root, pkg) {
			return root, nil
		}
		return "", fmt.Errorf("%s is %w", pkg, ErrNotInstalled)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", pkg, err)
	}
	for {
		if has(dir, pkg) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s is %w", pkg, ErrNotInstalled)
		}
		dir = parent
	}
}

func has(dir, pkg string) bool {
	_, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json"))
	return err == nil
}
