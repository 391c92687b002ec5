package main

import (
	"os"
	"path/filepath"
	"strings"
)

// expandFiles expands the glob patterns among the trace arguments (for
// shells that do not, and for quoted patterns such as --a 'old/*.zst'),
// keeping order and dropping repeats. A pattern matching nothing is a
// usage error; a plain name is kept as is (opening it reports a missing file).
func expandFiles(args []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, a := range args {
		if !strings.ContainsAny(a, "*?[") {
			add(a)
			continue
		}
		if _, err := os.Stat(a); err == nil {
			add(a) // a file whose name holds a glob character
			continue
		}
		m, err := filepath.Glob(a)
		if err != nil {
			return nil, usagef("bad pattern %q: %v", a, err)
		}
		if len(m) == 0 {
			return nil, usagef("no file matches %q", a)
		}
		for _, p := range m {
			add(p)
		}
	}
	return out, nil
}
