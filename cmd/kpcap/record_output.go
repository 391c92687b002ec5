//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/kpcap/kpcap/record"
)

// recordOutput is what kpcap record writes on stderr while it records:
// notices, the line that says recording has begun, and on a terminal a
// line redrawn with the attaching and recording progress (off a terminal,
// a status line a minute). They share stderr: mu orders them.
type recordOutput struct {
	w         io.Writer
	mu        sync.Mutex
	lineShown bool // the redrawn line is on the screen
}

// clearLineLocked erases the redrawn line; mu is held.
func (ro *recordOutput) clearLineLocked() {
	if ro.lineShown {
		fmt.Fprint(ro.w, "\r\033[K")
		ro.lineShown = false
	}
}

// clear erases the redrawn line.
func (ro *recordOutput) clear() {
	ro.mu.Lock()
	ro.clearLineLocked()
	ro.mu.Unlock()
}

// hook sets the callbacks of opts that write to stderr: none with quiet;
// live is a terminal.
func (ro *recordOutput) hook(opts *record.Options, quiet, live bool) {
	if quiet {
		return
	}
	opts.Notice = func(s string) {
		ro.mu.Lock()
		defer ro.mu.Unlock()
		ro.clearLineLocked()
		fmt.Fprintf(ro.w, "kpcap record: %s\n", s)
	}
	// The signal that recording has begun, for people and scripts.
	opts.Started = func(si record.StartInfo) {
		ro.mu.Lock()
		defer ro.mu.Unlock()
		ro.clearLineLocked()
		fmt.Fprintf(ro.w, "kpcap record: recording %s on %s to %s (Ctrl-C to stop)\n",
			plural(si.Sources, "source"), plural(si.CPUs, "CPU"), si.Output)
	}
	if !live {
		// Unattended (a service, a log file): one status line a minute.
		opts.ProgressEvery = statusEvery
		opts.Progress = func(st record.Stats) {
			ro.mu.Lock()
			defer ro.mu.Unlock()
			fmt.Fprintln(ro.w, statusLine(st, record.SelfUsage()))
		}
		return
	}
	// Attaching hundreds of probes takes the kernel seconds: say how far.
	var lastAttach time.Time
	opts.Attaching = func(what string, done, total int) {
		if total < attachShown || (done < total && time.Since(lastAttach) < 100*time.Millisecond) {
			return
		}
		lastAttach = time.Now()
		ro.mu.Lock()
		defer ro.mu.Unlock()
		fmt.Fprintf(ro.w, "\r\033[Kkpcap record: attaching %s: %d of %d", what, done, total)
		ro.lineShown = true
	}
	var lastN uint64
	var lastT time.Duration
	opts.Progress = func(st record.Stats) {
		ro.mu.Lock()
		defer ro.mu.Unlock()
		rate := 0.0
		if dt := st.Elapsed - lastT; dt > 0 {
			rate = float64(st.Samples-lastN) / dt.Seconds()
		}
		lastN, lastT = st.Samples, st.Elapsed
		fmt.Fprintf(ro.w, "\r\033[K%s  %d events  %s/s  %s written  %d lost",
			st.Elapsed.Truncate(100*time.Millisecond), st.Samples, recordCount(rate), byteSize(st.Bytes, 2), st.Lost)
		ro.lineShown = true
	}
}

// stopOnSignals cancels the recording at the first of sigs and forces it
// to end (the returned channel closes) at the second.
func stopOnSignals(sigs <-chan os.Signal, cancel context.CancelFunc) chan struct{} {
	force := make(chan struct{})
	go func() {
		n := 0
		for range sigs {
			n++
			if n == 1 {
				cancel()
			} else if n == 2 {
				close(force)
			}
		}
	}()
	return force
}
