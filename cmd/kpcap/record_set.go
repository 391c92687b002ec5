//go:build linux

package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kpcap/kpcap/record"
	"github.com/spf13/pflag"
)

// setFlags are record's options for long recordings: size limit, rotation,
// retention.
type setFlags struct {
	maxSize, rotate, keepSize *string
	keep                      *int
}

func addSetFlags(fs *pflag.FlagSet) *setFlags {
	return &setFlags{
		maxSize:  fs.String("max-size", "", "stop cleanly once `SIZE` bytes are written (all files), e.g. 500M"),
		rotate:   fs.String("rotate", "", "start a new file at `SIZE|DURATION` (1G, 100M: a size; 10m, 1h: a duration): FILE becomes FILE-0001, FILE-0002, ..."),
		keep:     fs.Int("keep", 0, "with --rotate, keep only the newest `N` files (the one being written included)"),
		keepSize: fs.String("keep-size", "", "with --rotate, delete the oldest files to keep at most `SIZE` on disk"),
	}
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
	return nil
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
		fmt.Fprintf(b, ", %d deleted (%s: %d samples, %d lost)", deleted, recordBytes(delBytes), delSamples, delLost)
	}
	b.WriteString(" ]\n")
}
