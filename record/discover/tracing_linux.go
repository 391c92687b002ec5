//go:build linux

package discover

import "github.com/kpcap/kpcap/record/internal/tracefs"

// Tracing is the kernel's tracing directory (tracefs), which the listings
// read.
type Tracing struct {
	Dir string // e.g. /sys/kernel/tracing
}

// OpenTracing finds tracefs, mounting it at /sys/kernel/tracing when it is
// not mounted (which needs root), as kpcap record does.
func OpenTracing() (*Tracing, error) {
	fs, err := tracefs.Open()
	if err != nil {
		return nil, err
	}
	return &Tracing{Dir: fs.Dir}, nil
}

// ErrNoEvent is matched (errors.Is) by the error of Tracepoints and
// TracepointFormat for a name or pattern that names no trace event: a
// mistake in the request, not in the system.
var ErrNoEvent = tracefs.ErrNoEvent

// HasKprobes reports whether the kernel has kprobe events and the kprobe PMU.
func (t *Tracing) HasKprobes() bool { return t.fs().HasKprobes() }

func (t *Tracing) fs() *tracefs.FS { return &tracefs.FS{Dir: t.Dir} }
