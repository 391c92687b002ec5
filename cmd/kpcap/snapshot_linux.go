//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

func init() {
	register(&command{
		name:    "snapshot",
		summary: "ask a running flight recorder (kpcap record --snapshot) to write a snapshot",
		usage:   snapshotUsage,
		run:     runSnapshot,
	})
}

const snapshotUsage = `Usage: kpcap snapshot [PID]

Ask a running "kpcap record --snapshot" to write what it holds in memory (the
last DURATION or SIZE of the recording) to its next file, FILE-NNNN. It sends
the recorder SIGUSR1 (kill -USR1 PID does the same); the recorder names the
file on its stderr and in its final summary. Without PID, the one kpcap
recorder running with --snapshot is asked (an error if there are several).

Examples:
  kpcap record --snapshot 30s -e sched:sched_switch -o sw.pcapng.zst &
  kpcap snapshot
`

func runSnapshot(args []string) error {
	fs := newFlags(commands["snapshot"])
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	var pid int
	switch fs.NArg() {
	case 0:
		pids := flightRecorders()
		switch len(pids) {
		case 0:
			return errors.New("no kpcap record --snapshot is running")
		case 1:
			pid = pids[0]
		default:
			return usagef("%d flight recorders are running (%s): give the PID", len(pids), joinInts(pids))
		}
	case 1:
		n, err := strconv.Atoi(fs.Arg(0))
		if err != nil || n <= 0 {
			return usagef("bad PID %q", fs.Arg(0))
		}
		if !isFlightRecorder(n) {
			// SIGUSR1 would kill any other process.
			return fmt.Errorf("process %d is not a kpcap record --snapshot", n)
		}
		pid = n
	default:
		return usagef("want at most one PID, got %d arguments", fs.NArg())
	}
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return fmt.Errorf("signal process %d: %w", pid, err)
	}
	fmt.Fprintf(os.Stderr, "kpcap snapshot: asked process %d for a snapshot\n", pid)
	return nil
}

// flightRecorders lists the processes running kpcap record --snapshot.
func flightRecorders() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	self := os.Getpid()
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n == self {
			continue
		}
		if isFlightRecorder(n) {
			out = append(out, n)
		}
	}
	return out
}

// isFlightRecorder reports whether pid runs "kpcap record" with --snapshot.
func isFlightRecorder(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
	if len(args) < 2 || args[1] != "record" {
		return false
	}
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if !strings.Contains(args[0], "kpcap") && !strings.Contains(exe, "kpcap") {
		return false
	}
	for _, a := range args[2:] {
		if a == "--" {
			break
		}
		if a == "--snapshot" || strings.HasPrefix(a, "--snapshot=") {
			return true
		}
	}
	return false
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
