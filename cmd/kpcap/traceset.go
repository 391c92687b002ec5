package main

import (
	"fmt"

	"github.com/kpcap/kpcap/format"
)

// openTrace opens the trace that args name: one file, several files, a
// quoted glob or a set's directory, read as one trace in time order
// (format.OpenSet). name labels it in messages.
func openTrace(args []string) (f *format.File, name string, err error) {
	paths, err := format.ExpandPaths(args)
	if err != nil {
		return nil, "", err
	}
	f, err = format.OpenSet(paths)
	if err != nil {
		return nil, "", err
	}
	return f, traceName(paths), nil
}

// traceName labels a trace of one or more files.
func traceName(paths []string) string {
	if len(paths) == 1 {
		return paths[0]
	}
	return fmt.Sprintf("%s (+%d more files)", paths[0], len(paths)-1)
}

// expandTraceArgs expands trace arguments (files, quoted globs, a set's
// directory) into files, each once; a pattern that matches nothing is a
// usage error, a directory without traces an error.
func expandTraceArgs(args []string) ([]string, error) {
	files, err := expandFiles(args)
	if err != nil {
		return nil, err
	}
	paths, err := format.ExpandPaths(files)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := paths[:0]
	for _, p := range paths {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}
