package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// isStdout reports whether the output file path means stdout: "-", as for
// perf, trace-cmd and the Unix tools. Every command whose output is a
// single stream follows it; progress, notes and warnings stay on stderr.
func isStdout(path string) bool { return path == "-" }

// writeOutput writes path (or stdout, see isStdout) with write, buffered, and closes
// it; write errors, flushing and closing included, name the path.
func writeOutput(path string, write func(io.Writer) error) error {
	if isStdout(path) {
		w := bufio.NewWriter(os.Stdout)
		if err := write(w); err != nil {
			w.Flush() // what was written so far
			return err
		}
		return w.Flush()
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	werr := write(w)
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if werr != nil {
		return werr
	}
	if err != nil {
		return writeError(path, err)
	}
	return nil
}

// writeError names path in err once: the os errors of a write or close of
// the file say "write PATH: ..." already.
func writeError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return err
	}
	return fmt.Errorf("write %s: %w", path, err)
}
