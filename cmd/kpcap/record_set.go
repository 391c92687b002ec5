//go:build linux

package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record"
	"github.com/kpcap/kpcap/replay"
	"github.com/kpcap/kpcap/replay/filter"
	"github.com/spf13/pflag"
)

// setFlags are record's options for long recordings: size limit, rotation,
// retention.
type setFlags struct {
	maxSize, rotate, keepSize *string
	keep                      *int

	snapshot        *string
	triggers        *[]string
	after, cooldown *secondsOrDuration
	maxSnapshots    *int
}

func addSetFlags(fs *pflag.FlagSet) *setFlags {
	return &setFlags{
		maxSize:  fs.String("max-size", "", "stop cleanly once `SIZE` bytes are written (all files), e.g. 500M"),
		rotate:   fs.String("rotate", "", "start a new file at `SIZE|DURATION` (1G, 100M: a size; 10m, 1h: a duration): FILE becomes FILE-0001, FILE-0002, ..."),
		keep:     fs.Int("keep", 0, "with --rotate, keep only the newest `N` files (the one being written included)"),
		keepSize: fs.String("keep-size", "", "with --rotate, delete the oldest files to keep at most `SIZE` on disk"),

		snapshot:     fs.String("snapshot", "", "flight recorder: keep the last `DURATION|SIZE` in memory (10s, 64M), write it to FILE-NNNN on SIGUSR1, kpcap snapshot, or a --trigger"),
		triggers:     fs.StringArray("trigger", nil, "with --snapshot, snapshot when `EXPR` holds: 'GROUP:EVENT: FILTER' (an ftrace filter on one source) or 'latency FUNC > 10ms' (an entry/return pair); repeatable"),
		after:        new(secondsOrDuration),
		cooldown:     new(secondsOrDuration),
		maxSnapshots: fs.Int("max-snapshots", 0, "with --snapshot, write at most `N` snapshot files"),
	}
}

// addSnapshotTimes registers the duration flags of the flight recorder.
func (f *setFlags) addSnapshotTimes(fs *pflag.FlagSet) {
	fs.Var(f.after, "after", "with --trigger, go on recording `DURATION` after the triggering event before writing the snapshot")
	fs.Var(f.cooldown, "cooldown", "with --snapshot, ignore requests for `DURATION` after a snapshot")
}

// apply checks the flags and sets them in opts.
func (f *setFlags) apply(opts *record.Options) error {
	if *f.maxSize != "" {
		n, err := parseRecordSize(*f.maxSize)
		if err != nil {
			return usagef("bad --max-size: %v", err)
		}
		opts.MaxSize = int64(n)
	}
	if *f.rotate != "" {
		size, every, err := parseRotate(*f.rotate)
		if err != nil {
			return usagef("bad --rotate: %v", err)
		}
		opts.RotateSize, opts.RotateEvery = size, every
	}
	if *f.keep < 0 {
		return usagef("bad --keep %d: want a number of files >= 1", *f.keep)
	}
	opts.Keep = *f.keep
	if *f.keepSize != "" {
		n, err := parseRecordSize(*f.keepSize)
		if err != nil {
			return usagef("bad --keep-size: %v", err)
		}
		opts.KeepSize = int64(n)
	}
	if (opts.Keep > 0 || opts.KeepSize > 0) && *f.rotate == "" {
		return usagef("--keep and --keep-size need --rotate (they delete the oldest files of a rotated set)")
	}
	if opts.KeepSize > 0 && opts.RotateSize > 0 && opts.KeepSize < 2*opts.RotateSize {
		return usagef("--keep-size %s is less than two --rotate files: it would delete every closed file", *f.keepSize)
	}
	return f.applySnapshot(opts)
}

func (f *setFlags) applySnapshot(opts *record.Options) error {
	if *f.snapshot == "" {
		if len(*f.triggers) > 0 || *f.after > 0 || *f.cooldown > 0 || *f.maxSnapshots > 0 {
			return usagef("--trigger, --after, --cooldown and --max-snapshots need --snapshot DURATION|SIZE")
		}
		return nil
	}
	if *f.rotate != "" || *f.maxSize != "" {
		return usagef("--snapshot keeps the recording in memory: it does not go with --rotate or --max-size")
	}
	size, every, err := parseRotate(*f.snapshot)
	if err != nil {
		return usagef("bad --snapshot: %v", err)
	}
	opts.SnapshotSize, opts.SnapshotWindow = size, every
	if *f.maxSnapshots < 0 {
		return usagef("bad --max-snapshots %d", *f.maxSnapshots)
	}
	opts.After, opts.Cooldown, opts.MaxSnapshots = time.Duration(*f.after), time.Duration(*f.cooldown), *f.maxSnapshots
	for _, t := range *f.triggers {
		tr, err := parseTrigger(t)
		if err != nil {
			return err
		}
		opts.Triggers = append(opts.Triggers, tr)
	}
	return nil
}

// parseTrigger reads a --trigger: "latency FUNC > DURATION" or
// "GROUP:EVENT: FILTER".
func parseTrigger(t string) (record.Trigger, error) {
	tr := record.Trigger{Text: t}
	if rest, ok := strings.CutPrefix(strings.TrimSpace(t), "latency "); ok {
		fn, lim, ok := strings.Cut(rest, ">")
		fn = strings.TrimSpace(fn)
		d, err := parseSecondsOrDuration(strings.TrimSpace(lim))
		if !ok || fn == "" || err != nil || d <= 0 {
			return tr, usagef("bad --trigger %q: want 'latency FUNC > DURATION', e.g. 'latency do_sys_openat2 > 10ms' (FUNC is a probed function, or a syscall name for sys_enter_X/sys_exit_X)", t)
		}
		tr.Target, tr.Latency = fn, d
		return tr, nil
	}
	group, rest, ok1 := strings.Cut(t, ":")
	event, expr, ok2 := strings.Cut(rest, ":")
	group, event, expr = strings.TrimSpace(group), strings.TrimSpace(event), strings.TrimSpace(expr)
	if !ok1 || !ok2 || group == "" || event == "" || expr == "" {
		return tr, usagef("bad --trigger %q: want 'GROUP:EVENT: FILTER', e.g. 'syscalls:sys_exit_openat: ret == -13', or 'latency FUNC > DURATION'", t)
	}
	if _, err := filter.Parse(expr); err != nil {
		return tr, usagef("bad --trigger %q: %v", t, err)
	}
	tr.Source = group + ":" + event
	tr.Compile = func(src format.Source) (func(*format.Sample) bool, error) {
		return replay.CompileSampleFilter(src, expr)
	}
	return tr, nil
}

// snapshotOnUSR1 makes SIGUSR1 (kpcap snapshot) ask for a snapshot.
func snapshotOnUSR1(opts *record.Options) (stop func()) {
	usr := make(chan os.Signal, 4)
	signal.Notify(usr, syscall.SIGUSR1)
	req := make(chan string, 4)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-usr:
				select {
				case req <- "SIGUSR1":
				default:
				}
			case <-done:
				return
			}
		}
	}()
	opts.Snapshot = req
	return func() { signal.Stop(usr); close(done) }
}

// parseRotate reads --rotate: a Go duration (lower-case units: 10m, 1h30m,
// 45s) or a size (upper-case units or none: 1G, 100M, 512K; k and g are
// read as sizes too, since no duration uses them).
func parseRotate(s string) (size int64, every time.Duration, err error) {
	t := strings.TrimSpace(s)
	if t != "" && strings.ContainsAny(t[len(t)-1:], "smh") {
		d, derr := time.ParseDuration(t)
		if derr != nil || d <= 0 {
			return 0, 0, fmt.Errorf("%q is not a duration like 10m or 1h", s)
		}
		if d < time.Second {
			return 0, 0, fmt.Errorf("%q: rotate at most once a second", s)
		}
		return 0, d, nil
	}
	n, serr := parseRecordSize(t)
	if serr != nil {
		return 0, 0, fmt.Errorf("%q is neither a size (100M, 1G) nor a duration (10m, 1h)", s)
	}
	if n < 64<<10 {
		return 0, 0, fmt.Errorf("%q: files of less than 64K would be mostly headers", s)
	}
	return int64(n), 0, nil
}

// rotateOnHUP makes SIGHUP start a new file of the set.
func rotateOnHUP(opts *record.Options) (stop func()) {
	hup := make(chan os.Signal, 4)
	signal.Notify(hup, syscall.SIGHUP)
	rot := make(chan struct{}, 4)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				select {
				case rot <- struct{}{}:
				default:
				}
			case <-done:
				return
			}
		}
	}()
	opts.Rotate = rot
	return func() { signal.Stop(hup); close(done) }
}

// printSetSummary says which files a rotated recording wrote, and what the
// deleted ones held: their counts complete the accounting of the set.
func printSetSummary(b *strings.Builder, res *record.Result) {
	if len(res.Files) == 0 {
		if res.SnapshotMemory > 0 {
			fmt.Fprintf(b, "[ kpcap record: flight recorder held at most %s; no snapshot written ]\n", byteSize(res.SnapshotMemory, 2))
		}
		return
	}
	if res.Files[0].Trigger != "" || res.SnapshotMemory > 0 {
		fmt.Fprintf(b, "[ kpcap record: %d snapshots (the flight recorder held at most %s", len(res.Files), byteSize(res.SnapshotMemory, 2))
		if res.Skipped > 0 {
			fmt.Fprintf(b, "; %d requests or triggering events ignored by --cooldown/--max-snapshots", res.Skipped)
		}
		b.WriteString(") ]\n")
		for _, f := range res.Files {
			fmt.Fprintf(b, "  %s: %d events, %d lost, %s (%s)\n", f.Path, f.Samples, f.Lost, byteSize(f.Bytes, 2), f.Trigger)
		}
		return
	}
	var kept, deleted int
	var delSamples, delLost uint64
	var delBytes int64
	for _, f := range res.Files {
		if f.Deleted {
			deleted++
			delSamples += f.Samples
			delLost += f.Lost
			delBytes += f.Bytes
		} else {
			kept++
		}
	}
	first, last := res.Files[0].Path, res.Files[len(res.Files)-1].Path
	fmt.Fprintf(b, "[ kpcap record: set %s: %d files, %s .. %s; %d kept", res.SetID, len(res.Files), first, last, kept)
	if deleted > 0 {
		fmt.Fprintf(b, ", %d deleted (%s: %d samples, %d lost)", deleted, byteSize(delBytes, 2), delSamples, delLost)
	}
	b.WriteString(" ]\n")
}

// statusEvery is how often an unattended recording prints its status line.
var statusEvery = time.Minute

func init() {
	// Tests shorten it; a person has no reason to.
	if d, err := time.ParseDuration(os.Getenv("KPCAP_STATUS_EVERY")); err == nil && d > 0 {
		statusEvery = d
	}
}

// statusLine is the once-a-minute line of an unattended recording.
func statusLine(st record.Stats, u record.Usage) string {
	cpu := time.Duration(u.UserNS + u.SystemNS)
	share := 0.0
	if st.Elapsed > 0 {
		share = 100 * cpu.Seconds() / st.Elapsed.Seconds()
	}
	return fmt.Sprintf("kpcap record: status: %s elapsed, %d events, %d lost, %s written, recorder CPU %.1f%%, RSS peak %s",
		st.Elapsed.Truncate(time.Second), st.Samples, st.Lost, byteSize(st.Bytes, 2), share, byteSize(u.MaxRSS, 2))
}
