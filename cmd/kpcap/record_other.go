//go:build !linux

package main

import "errors"

func init() {
	register(&command{
		name:    "record",
		summary: "record tracepoints, kprobes and uprobes into a trace file (Linux only)",
		usage:   "Usage: kpcap record [options] [-- COMMAND]\n\nRecording needs Linux (perf_event_open); copy the trace elsewhere to analyze it.\n",
		run: func(args []string) error {
			return errors.New("recording needs Linux (perf_event_open); record on the Linux machine and analyze the file anywhere")
		},
	})
}
