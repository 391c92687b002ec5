//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/kpcap/kpcap/format"
)

// snapshotWindow is the flight recorder's window in the snapshot runs:
// longer than any workload here, so that the snapshot holds every event
// and its counts check like a plain recording's.
const snapshotWindow = "120s"

// askSnapshot asks a flight recorder started on trace for a snapshot
// (SIGUSR1, as kpcap snapshot does) and waits until it says it wrote it;
// it returns the snapshot's path.
func askSnapshot(ctx context.Context, rec *recorder, trace string) (string, error) {
	if err := rec.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return "", fmt.Errorf("SIGUSR1 to kpcap record: %w", err)
	}
	path := format.SetFileName(trace, 1)
	deadline := time.Now().Add(time.Minute)
	for {
		if b, err := os.ReadFile(rec.log); err == nil && strings.Contains(string(b), "snapshot 1 (") {
			return path, nil
		}
		if done, err := rec.exited(); done {
			return "", err
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("kpcap record wrote no snapshot within 1 minute of SIGUSR1; log: %s", tail(rec.log))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// maxRSS is the recorder's peak resident set in bytes (0 if unknown):
// its VmHWM read before it was stopped, or else its rusage, which may hold
// this benchmark's own peak (inherited across the exec).
func (rec *recorder) maxRSS() int64 {
	if rec.peakRSS > 0 {
		return rec.peakRSS
	}
	if ru, ok := rec.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10 // KiB on Linux
	}
	return 0
}
