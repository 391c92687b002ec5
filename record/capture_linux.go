//go:build linux

package record

import (
	"errors"
	"os"
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

// capture is one running recording.
type capture struct {
	opts    *Options
	sources []*source
	cpus    []int
	rings   []*perf.Ring // one per CPU, index = queue index
	qs      []*cpuQueue
	cpuOf   []uint32 // queue index -> cpu
	fds     []int    // every event fd, ring owners included
	poller  *perf.Poller
	merge   merger
	out     sink
	file    *os.File
	w       *format.Writer // out, unless a test replaced it
	path    string         // the file being written
	res     *Result

	// rotation, when the recording is a set of files (nil until the
	// first rotation otherwise)
	rot       *rotation
	sizeCheck int         // samples until the next size check
	stopReq   atomic.Bool // a limit (MaxSize) asks the reader to stop
	snap      *snapshotState
	trig      *triggers
	closed    bool // finish closed the last file

	// id -> source index; -1 for the per-CPU dummy events
	ids      map[uint64]int32
	denseIDs []int32 // ids[minID+i], -2 for none; used when ids are compact
	minID    uint64

	drop    []uint64   // per source
	recvCPU [][]uint64 // [source][queue] samples written
	// weightCPU sums the periods of the samples written or filtered out,
	// [source][queue]: what the counters count (see account).
	weightCPU [][]uint64
	counted   []bool   // per source: a tracepoint passing a count (__perf_count)
	lostCPU   []uint64 // [queue] ring loss the kernel reported
	srcFDs    []srcFD
	lostTotal uint64
	unmatched uint64
	records   uint64
	late      uint64 // records older than one already written (beyond the lag window)
	emittedNS uint64
	startNS   uint64
	lastNS    uint64

	resolver *resolver

	// chunks between the reader and the writer
	pool       chunkPool
	inflight   atomic.Int64 // bytes of chunk memory in use or pooled
	chunkBytes int          // size of the large chunks
	memCap     int64
	malformed  uint64 // chunks with a corrupt record (never expected)

	// tasks traced with --pid or a command, for the wide sources
	tracked     map[uint32]uint64 // tid -> exit time (0: alive)
	trackTasks  bool
	filteredCPU [][]uint64 // [source][queue] wide samples of other tasks
	wideFDs     []int

	sample format.Sample
	psamp  perf.Sample
	comms  map[uint32]taskComm // tid -> comm, to name forked children and each new file's tasks
	syms   *symbolizer
	cg     *cgroupState // --cgroup; nil otherwise
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
