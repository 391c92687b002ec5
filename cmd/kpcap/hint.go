package main

import (
	"errors"

	"github.com/kpcap/kpcap/analyze"
)

// hint is what the command line adds to an error of the libraries: how to
// get what the error found missing, in kpcap's commands and flags.
func hint(err error) string {
	if errors.Is(err, analyze.ErrNoCgroups) {
		return " (record with kpcap record --cgroup)"
	}
	return ""
}
