//go:build linux

package record

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/perf"
	"golang.org/x/sys/unix"
)

// monotonicNS reads the sample clock (CLOCK_MONOTONIC) through Go's
// monotonic clock, which is the same clock read through the vDSO: a real
// syscall here, right after the recorder wakes from idle, would wake the
// runtime's sysmon into a burst of 20µs polls (thousands of context
// switches per second).
func monotonicNS() uint64 {
	return monoBase + uint64(time.Since(monoStart))
}

// monoStart and monoBase pair a time.Time with CLOCK_MONOTONIC read around
// it (the midpoint is off by well under a microsecond).
var monoStart, monoBase = func() (time.Time, uint64) {
	var a, b unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &a)
	t := time.Now()
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &b)
	return t, uint64(a.Nano()+b.Nano()) / 2
}()

// capture is one running recording. Its parts live beside the code that
// owns them: perfEvents (events_linux.go), eventIDs (eventids_linux.go),
// chunkMemory (chunks_linux.go), counters (account_linux.go),
// trackedTasks (tracked_linux.go) and output (output_linux.go).
type capture struct {
	perfEvents
	eventIDs
	chunkMemory
	counters
	trackedTasks
	output

	opts    *Options
	sources []*source
	cpus    []int
	qs      []*cpuQueue // one per ring, index = queue index, then the BPF queues
	// bpfQ0 is the first BPF queue (one per CPU, after the rings'), past
	// every queue without a BPF path.
	bpfQ0 int
	// cmdPID is the traced command's process (0: none); execNS the time
	// of its exec (the per-task window's start for the BPF path), the
	// largest time until then.
	cmdPID uint32
	execNS uint64
	merge  merger
	res    *Result
	snap   *snapshotState
	trig   *triggers

	resolver *resolver

	sample format.Sample
	psamp  perf.Sample
	comms  map[uint32]taskComm // tid -> comm, to name forked children and each new file's tasks
	syms   *symbolizer
	cg     *cgroupState // --cgroup; nil otherwise
	bpf    *bpfCapture  // the sources on the BPF path (bpfpath_linux.go); nil if none
	err    error

	// aborted is set when opts.Force closes: the writer stops between two
	// samples, the rest is counted lost by account.
	aborted atomic.Bool
}

// errForced ends the merge when the capture is forced to stop.
var errForced = errors.New("forced stop")

func (c *capture) forced() bool {
	if c.aborted.Load() {
		return true
	}
	if c.opts.Force == nil {
		return false
	}
	select {
	case <-c.opts.Force:
		return true
	default:
		return false
	}
}

// notice reports a one-line message in the result and to Options.Notice.
func (c *capture) notice(s string) {
	if c.res != nil {
		c.res.Notices = append(c.res.Notices, s)
	}
	if c.opts.Notice != nil {
		c.opts.Notice(s)
	}
}
