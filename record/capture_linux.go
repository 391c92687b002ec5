//go:build linux

package record

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/perf"
	"golang.org/x/sys/unix"
)

// slowReleaseEvents is the number of perf events above which closing them
// takes long enough (seconds) to be announced.
var slowReleaseEvents = 200

// Tuning of the drain loop.
const (
	// pollTimeout bounds how long a quiet ring waits to be drained. It
	// also sets how much copied data is in flight between the reader and
	// the writer: 50 ms rather than 100 ms halved the fresh memory a busy
	// capture touches (page faults were a fifth of its CPU), for 20 more
	// idle wakeups a second.
	pollTimeout = 50 * time.Millisecond
	// lagWindow holds back records this much younger than the start of a
	// drain round, so that a record reserved late on one CPU (an interrupt
	// between its timestamp and its reservation) still sorts before
	// younger ones from other CPUs.
	lagWindow = 20 * time.Millisecond
	// maxStack caps callchain depth.
	maxStack = 127
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

// srcFD is one source's event on one CPU (or one thread on one CPU).
type srcFD struct {
	fd  int
	src int32
	q   int
}

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

// Run records until ctx is cancelled, the duration elapses, the traced
// command or process exits, or opts.Force is closed. The file is finalized
// and every dynamic probe removed on all of these paths.
func Run(ctx context.Context, opts Options) (res *Result, err error) {
	o := &opts
	if o.Output == "" {
		o.Output = DefaultOutput
	}
	if o.PID != 0 && len(o.Command) > 0 {
		return nil, &UsageError{"--pid and a command cannot be combined"}
	}
	if o.PID < 0 {
		return nil, &UsageError{fmt.Sprintf("bad --pid %d", o.PID)}
	}
	if len(o.Cgroups) > 0 && (o.PID != 0 || len(o.Command) > 0) {
		return nil, &UsageError{"--cgroup cannot be combined with --pid or a command"}
	}
	gc := tuneGC(recordMemLimit)
	defer gc.restore()
	o.gc = gc
	res = &Result{Output: o.Output, ExitCode: -1}
	notice := func(s string) {
		res.Notices = append(res.Notices, s)
		if o.Notice != nil {
			o.Notice(s)
		}
	}
	cpus, err := selectCPUs(o.CPUs)
	if err != nil {
		return nil, err
	}
	var plain []string
	var usdts []*usdtDef
	var globs []string
	for _, def := range o.Probes {
		if _, _, _, ok := splitProbeGlob(def); ok {
			globs = append(globs, def)
			continue
		}
		if !isUSDT(def) {
			plain = append(plain, def)
			continue
		}
		d, err := parseUSDT(def)
		if err != nil {
			return nil, err
		}
		usdts = append(usdts, d)
	}
	probes, err := parseProbes(plain)
	if err != nil {
		return nil, err
	}
	r := &resolver{notice: notice, names: map[string]bool{}, inherit: o.PID != 0 || len(o.Command) > 0}
	defer func() {
		if cerr := r.cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if fs, ferr := r.tracefs(); ferr == nil {
		removed, serr := fs.SweepStale()
		if len(removed) > 0 {
			notice(fmt.Sprintf("removed %d probe(s) left by dead kpcap processes: %s", len(removed), strings.Join(removed, ", ")))
		}
		if serr != nil {
			notice(fmt.Sprintf("could not remove every stale kpcap probe: %v", serr))
		}
	}
	if len(o.Events) == 0 && len(o.Probes) == 0 {
		if err := r.addEvents(DefaultEvents, true); err != nil {
			return nil, err
		}
		if r.kprobesAvailable() {
			dp, err := parseProbes(DefaultProbes)
			if err != nil {
				// No BTF (or no do_sys_openat2 in it): the same fields by register.
				if dp, err = parseProbes(DefaultProbesNoBTF); err != nil {
					return nil, err
				}
			}
			for _, p := range dp {
				if err := r.addProbe(p); err != nil {
					notice(fmt.Sprintf("skipping default probe %s: %v", p.Name(), err))
				}
			}
		} else {
			notice("kprobes unavailable (kernel built without CONFIG_KPROBES / CONFIG_KPROBE_EVENTS): skipping the default kprobes:openat2 probes")
		}
		if len(r.sources) == 0 {
			return nil, errors.New("none of the default events exist on this kernel: give -e or -p")
		}
	} else {
		if err := r.addEvents(o.Events, false); err != nil {
			return nil, err
		}
		for _, p := range probes {
			if err := r.addProbe(p); err != nil {
				return nil, err
			}
		}
		for _, d := range usdts {
			if err := r.addUSDT(d, o.PID); err != nil {
				return nil, err
			}
		}
		if err := r.addGlobs(globs, o.MaxProbes); err != nil {
			return nil, err
		}
	}
	return runSources(ctx, o, r, res, cpus)
}

// runSources records the resolved sources of r into o.Output.
func runSources(ctx context.Context, o *Options, r *resolver, res *Result, cpus []int) (*Result, error) {
	var err error
	if o.Filter != "" {
		fields := filterFields(o.Filter)
		n := 0
		for _, s := range r.sources {
			if filterApplies(fields, s.layout) {
				s.filter, s.desc.Filter = true, o.Filter
				n++
			}
		}
		if n == 0 {
			return nil, &UsageError{fmt.Sprintf("filter %q uses fields (%s) that no event source has", o.Filter, strings.Join(fields, ", "))}
		}
	}

	if o.PID != 0 || len(o.Command) > 0 {
		for _, s := range r.sources {
			s.wide = s.desc.Kind == format.KindTracepoint && perTaskBlind[s.desc.Name]
		}
	}
	c := &capture{opts: o, sources: r.sources, cpus: cpus, comms: map[uint32]taskComm{}, resolver: r, tracked: map[uint32]uint64{}, trackTasks: o.PID != 0 || len(o.Command) > 0, res: res}
	c.drop = make([]uint64, len(c.sources))
	defer c.closeEvents() // before r.cleanup: probes in use cannot be deleted
	if len(o.Cgroups) > 0 {
		if c.cg, err = resolveCgroups(o.Cgroups); err != nil {
			return nil, err
		}
		defer c.cg.close()
		if c.cg.perSample = probeCgroupSampling(cpus[0]); !c.cg.perSample && o.Notice != nil {
			o.Notice("this kernel does not record each sample's cgroup (PERF_SAMPLE_CGROUP needs Linux 5.7+): events are restricted to the cgroups, but the file cannot tell them apart (no --by cgroup)")
		}
	}

	var child *childProc
	if len(o.Command) > 0 {
		child, err = startChild(o.Command)
		if err != nil {
			return nil, err
		}
		defer child.abort()
	}
	if err := c.open(r, child); err != nil {
		return nil, err
	}
	if err := c.setupTriggers(); err != nil {
		return nil, err
	}
	if err := c.createOutput(); err != nil {
		return nil, err
	}
	if o.CallGraph {
		c.syms = newSymbolizer()
		c.syms.cacheKallsyms = o.rotates()
	}
	c.startNS = monotonicNS()
	c.lastNS = c.startNS
	if len(o.Command) == 0 {
		c.initialComms(o.PID)
	}
	enable := c.fds
	if child != nil {
		enable = c.wideFDs // enable_on_exec does the others
	}
	for _, fd := range enable {
		if err := perf.Enable(fd); err != nil {
			c.err = fmt.Errorf("enable events: %w", err)
			break
		}
	}
	if c.err == nil && o.Ready != nil {
		o.Ready()
	}
	if c.err == nil && o.Started != nil {
		o.Started(StartInfo{Sources: len(c.sources), CPUs: len(c.cpus), Events: len(c.fds), Output: cmp.Or(c.path, o.Output)})
	}
	if c.err == nil && child != nil {
		c.err = child.release()
	}
	if c.err == nil {
		c.loop(ctx, child)
	}
	for _, fd := range c.fds { // already done unless the loop failed
		perf.Disable(fd)
	}
	if child != nil {
		res.ExitCode = child.exitCode()
	}
	if c.err == nil {
		c.err = c.account()
	}
	cerr := c.finish()
	if cerr == nil && len(c.fds) > slowReleaseEvents && o.Notice != nil {
		// Closing each tracepoint event waits for the kernel to unregister
		// it (tens of ms each): say the file is safe meanwhile. Not a
		// Result notice: it is about this moment only.
		o.Notice(fmt.Sprintf("trace finalized; releasing %d kernel events...", len(c.fds)))
	}
	res.Stats = c.stats()
	if res.Late > 0 {
		msg := fmt.Sprintf("%d records arrived more than %v late and are slightly out of time order", res.Late, lagWindow)
		res.Notices = append(res.Notices, msg)
		if o.Notice != nil {
			o.Notice(msg)
		}
	}
	if c.rot != nil {
		res.SetID, res.Files = c.rot.id, c.files()
	}
	if c.snap != nil {
		res.SetID, res.Files = c.snap.id, c.snap.files
		res.SnapshotMemory, res.Skipped = c.snap.ring.peak, c.snap.skipped
	}
	res.Usage = SelfUsage()
	res.Sources = make([]format.Source, len(c.sources))
	for i, s := range c.sources {
		res.Sources[i] = s.desc
	}
	if c.err != nil {
		return res, c.err
	}
	return res, cerr
}

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

// selectCPUs returns the CPUs to record on: the online ones, or the
// requested subset of them.
func selectCPUs(want []int) ([]int, error) {
	online, err := onlineCPUs()
	if err != nil {
		return nil, err
	}
	if len(want) == 0 {
		return online, nil
	}
	out := make([]int, 0, len(want))
	for _, c := range want {
		if !slices.Contains(online, c) {
			return nil, &UsageError{fmt.Sprintf("CPU %d is not online (online: %s)", c, FormatCPUList(online))}
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out, nil
}

func onlineCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		n := runtime.NumCPU()
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	return ParseCPUList(strings.TrimSpace(string(b)))
}

// bufferSize returns the ring data bytes per CPU: a power-of-two number of pages.
func bufferSize(want, ncpu int) int {
	page := os.Getpagesize()
	if want <= 0 {
		want = 16 << 20
		if total := 256 << 20; want*ncpu > total {
			want = max(total/ncpu, 1<<20)
		}
	}
	n := page
	for n*2 <= want {
		n *= 2
	}
	return n
}

// open creates the events: per CPU a dummy software event that owns the
// ring and reports COMM/FORK/EXIT, then every source's event redirected
// into that ring.
func (c *capture) open(r *resolver, child *childProc) error {
	o := c.opts
	var tids []int
	switch {
	case child != nil:
		tids = []int{child.pid()}
	case o.PID != 0:
		var err error
		tids, err = threadsOf(o.PID)
		if err != nil {
			return err
		}
	default:
		tids = []int{-1}
	}
	ringBytes := bufferSize(o.BufferSize, len(c.cpus))
	if err := checkRingMemory(ringBytes, len(c.cpus)); err != nil {
		return err
	}
	raiseMemlock(ringBytes, len(c.cpus))
	poller, err := perf.NewPoller()
	if err != nil {
		return err
	}
	c.poller = poller
	c.ids = map[uint64]int32{}
	base := perf.Attr{
		CallGraph:    o.CallGraph,
		MaxStack:     maxStack,
		Inherit:      o.PID != 0 || child != nil,
		EnableOnExec: child != nil,
		Disabled:     true,
	}
	for _, tid := range tids {
		if tid > 0 {
			c.tracked[uint32(tid)] = 0
		}
	}
	for qi, cpu := range c.cpus {
		owner := -1
		for ti, tid := range tids {
			d := base
			d.Type, d.Config, d.Task = unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_DUMMY, true
			d.Mmap = o.CallGraph
			d.CallGraph = false
			d.CgroupRecords = c.cg != nil && c.cg.perSample
			if owner < 0 {
				// A quarter: fewer wakeups (each costs the runtime a burst
				// of scheduler activity) while three quarters of the ring
				// absorb the reader's scheduling delay.
				d.WakeupBytes = uint32(ringBytes / 4)
			}
			fd, err := perf.Open(&d, tid, cpu)
			if err != nil {
				if errors.Is(err, unix.ESRCH) && o.PID != 0 {
					continue // thread exited meanwhile
				}
				return openError("dummy event", cpu, err)
			}
			c.fds = append(c.fds, fd)
			if err := c.register(fd, -1); err != nil {
				return err
			}
			if owner < 0 {
				owner = fd
				ring, err := perf.NewRing(fd, ringBytes)
				if err != nil {
					return mmapError(cpu, ringBytes, len(c.cpus), err)
				}
				c.rings = append(c.rings, ring)
				c.qs = append(c.qs, &cpuQueue{sorted: true})
				c.cpuOf = append(c.cpuOf, uint32(cpu))
				if err := poller.Add(fd, int32(qi)); err != nil {
					return err
				}
			} else if err := perf.SetOutput(fd, owner); err != nil {
				return fmt.Errorf("redirect dummy event on CPU %d: %w", cpu, err)
			}
			for si, s := range c.sources {
				a := s.attr
				a.CallGraph, a.MaxStack = base.CallGraph, base.MaxStack
				a.Inherit, a.EnableOnExec, a.Disabled = base.Inherit, base.EnableOnExec, true
				pid := tid
				if s.wide {
					if ti > 0 {
						continue // once per CPU
					}
					pid, a.Inherit, a.EnableOnExec = -1, false, false
				}
				fds, err := c.openSource(&a, pid, cpu)
				if err != nil {
					if errors.Is(err, unix.ESRCH) && o.PID != 0 {
						break
					}
					return openError(s.desc.Name, cpu, err)
				}
				for _, fd := range fds {
					c.fds = append(c.fds, fd)
					if err := perf.SetOutput(fd, owner); err != nil {
						return fmt.Errorf("%s: redirect into the CPU %d ring: %w", s.desc.Name, cpu, err)
					}
					if s.filter {
						before := ""
						if r.fs != nil {
							before = r.fs.ErrorLog()
						}
						if err := perf.SetFilter(fd, o.Filter); err != nil {
							return filterError(o.Filter, s, err, r, before)
						}
					}
					if err := c.register(fd, int32(si)); err != nil {
						return err
					}
					c.srcFDs = append(c.srcFDs, srcFD{fd: fd, src: int32(si), q: qi})
					if s.wide {
						c.wideFDs = append(c.wideFDs, fd)
					}
				}
			}
		}
		if owner < 0 {
			return fmt.Errorf("process %d has exited", o.PID)
		}
	}
	c.merge.qs = c.qs
	c.buildDense()
	c.recvCPU = make([][]uint64, len(c.sources))
	c.filteredCPU = make([][]uint64, len(c.sources))
	c.weightCPU = make([][]uint64, len(c.sources))
	c.counted = make([]bool, len(c.sources))
	for i := range c.recvCPU {
		c.recvCPU[i] = make([]uint64, len(c.qs))
		c.filteredCPU[i] = make([]uint64, len(c.qs))
		c.weightCPU[i] = make([]uint64, len(c.qs))
		c.counted[i] = countedTracepoint(c.sources[i].desc.Name)
	}
	c.lostCPU = make([]uint64, len(c.qs))
	return nil
}

func (c *capture) register(fd int, src int32) error {
	id, err := perf.ID(fd)
	if err != nil {
		return err
	}
	c.ids[id] = src
	return nil
}

// buildDense turns the id map into a slice when the ids are close together
// (they are handed out sequentially), sparing a map lookup per sample.
func (c *capture) buildDense() {
	lo, hi := ^uint64(0), uint64(0)
	for id := range c.ids {
		lo, hi = min(lo, id), max(hi, id)
	}
	if len(c.ids) == 0 || hi-lo > 1<<16 {
		return
	}
	c.minID = lo
	c.denseIDs = make([]int32, hi-lo+1)
	for i := range c.denseIDs {
		c.denseIDs[i] = -2
	}
	for id, s := range c.ids {
		c.denseIDs[id-lo] = s
	}
}

// sourceOf maps a sample id to its source: -1 dummy, -2 unknown.
func (c *capture) sourceOf(id uint64) int32 {
	if c.denseIDs != nil {
		if i := id - c.minID; i < uint64(len(c.denseIDs)) {
			return c.denseIDs[i]
		}
		return -2
	}
	if s, ok := c.ids[id]; ok {
		return s
	}
	return -2
}

func (c *capture) closeEvents() {
	for _, r := range c.rings {
		r.Close()
	}
	c.rings = nil
	for _, fd := range c.fds {
		unix.Close(fd)
	}
	c.fds = nil
	if c.poller != nil {
		c.poller.Close()
		c.poller = nil
	}
	if c.file != nil {
		c.file.Close()
		c.file = nil
	}
}

// createOutput opens the file (the set's first, when rotating) and writes
// the header frame.
func (c *capture) createOutput() error {
	o := c.opts
	c.sizeCheck = sizeCheckEvery
	if o.sink != nil {
		c.out = o.sink
		return nil
	}
	if o.snapshots() {
		return c.newFlightRecorder()
	}
	if o.rotates() {
		start := monotonicNS()
		c.rot = c.newRotation(start)
		return c.openFile(format.SetFileName(o.Output, 1), c.rot.info(start))
	}
	return c.openFile(o.Output, nil)
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

// Version is stored in the files kpcap writes; the CLI may override it.
var Version = "0.1.0"

func (c *capture) targets() string {
	o := c.opts
	var t string
	switch {
	case len(o.Command) > 0:
		t = "command " + strings.Join(o.Command, " ")
	case o.PID != 0:
		t = "pid " + strconv.Itoa(o.PID)
	case c.cg != nil:
		t = c.cg.describe()
	default:
		t = "system-wide"
	}
	if len(o.CPUs) > 0 {
		t += ", cpus " + FormatCPUList(c.cpus)
	}
	return t
}

func hostInfo() format.Host {
	var u unix.Utsname
	unix.Uname(&u)
	wall := time.Now().UnixNano()
	mono := monotonicNS()
	h := format.Host{
		Kernel:       unix.ByteSliceToString(u.Release[:]),
		Version:      unix.ByteSliceToString(u.Version[:]),
		Machine:      unix.ByteSliceToString(u.Machine[:]),
		OS:           "linux",
		CPUs:         runtime.NumCPU(),
		PageSize:     os.Getpagesize(),
		WallOffsetNS: wall - int64(mono),
	}
	h.Hostname, _ = os.Hostname()
	if h.Hostname == "" {
		h.Hostname = unix.ByteSliceToString(u.Nodename[:])
	}
	return h
}

// item is what the ring reader hands to the writer: a chunk of one ring's
// records, or a pass marker saying that every ring was read after time
// pass (so records stamped before pass-lagWindow have all been seen).
type item struct {
	q     int
	ch    *chunk
	pass  uint64
	final bool // last item: the events are disabled and every ring drained
}

// loop runs the capture until a stop condition: a reader goroutine copies
// the rings out as soon as they have data, so that a slow disk or a busy
// compressor costs memory (up to a cap) rather than samples; this
// goroutine merges and writes.
func (c *capture) loop(ctx context.Context, child *childProc) {
	o := c.opts
	var stop atomic.Bool
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		var childDone <-chan struct{}
		if child != nil {
			childDone = child.done
		}
		select {
		case <-ctx.Done():
		case <-childDone:
		case <-o.Force:
		case <-quit:
			return
		}
		stop.Store(true)
		c.poller.Wake()
	}()
	if o.Force != nil {
		go func() {
			select {
			case <-o.Force:
				c.aborted.Store(true)
			case <-quit:
			}
		}()
	}
	ringTotal := 0
	for _, r := range c.rings {
		ringTotal += r.Size()
	}
	c.memCap = int64(max(4*ringTotal, 64<<20))
	if o.memCap > 0 {
		c.memCap = o.memCap
	}
	// Chunks have one fixed size and are all pooled: fresh memory would
	// cost a page fault per 4 KiB copied. A quarter ring (the wakeup
	// watermark) holds what a busy ring gathers between two passes, so that
	// a read is rarely cut short (which costs a walk over its records).
	c.chunkBytes = min(max(ringTotal/len(c.rings)/4, smallChunk), 4<<20)
	items := make(chan item, 1024)
	readerDone := make(chan error, 1)
	go func() { readerDone <- c.reader(&stop, items, quit) }()
	err := c.writer(items)
	if err != nil {
		c.err = err
		return // quit (deferred) ends the reader
	}
	if rerr := <-readerDone; rerr != nil {
		c.err = rerr
	}
}

// reader copies ring data into chunks until stopped; then it disables the
// events, drains every ring one last time and sends the final item.
func (c *capture) reader(stop *atomic.Bool, out chan<- item, quit <-chan struct{}) error {
	defer close(out)
	o := c.opts
	send := func(it item) bool {
		select {
		case out <- it:
			return true
		case <-quit:
			return false
		case <-o.Force: // the writer no longer reads
			return false
		}
	}
	start := time.Now()
	nextAlive := start.Add(250 * time.Millisecond)
	var hups []int32
	var peek []byte
	lastPass, stuck, force := uint64(0), 0, -1
	for {
		stopping := stop.Load() || c.stopReq.Load()
		if o.Duration > 0 && time.Since(start) >= o.Duration {
			stopping = true
		}
		if o.PID != 0 && !time.Now().Before(nextAlive) {
			if unix.Kill(o.PID, 0) == unix.ESRCH {
				stopping = true
			}
			nextAlive = time.Now().Add(250 * time.Millisecond)
		}
		if stopping {
			if c.forced() {
				return nil
			}
			// Stop the kernel side first so that the final drain has an end.
			for _, fd := range c.fds {
				perf.Disable(fd)
			}
		}
		pass := monotonicNS()
		safe := pass // the pass, or older if a ring was left with unread records
		oldest := -1 // the ring holding the oldest unread record
		throttled := false
		for qi, ring := range c.rings {
			// Bounded: a ring refilling as fast as it is read waits for the
			// next pass.
			drained := false
			for range ring.Size()/smallChunk + 1 {
				if ring.Pending() == 0 {
					drained = true
					break
				}
				ch := c.getChunk(ring.Pending(), qi == force)
				if qi == force {
					force = -1
				}
				if ch == nil {
					throttled = true // over the memory cap: let the ring absorb it
					break
				}
				var more bool
				before := cap(ch.data)
				ch.data, more = ring.ReadIntoMax(ch.data[:0], cap(ch.data))
				c.inflight.Add(int64(cap(ch.data) - before)) // a record larger than a small chunk
				if !send(item{q: qi, ch: ch}) {
					return nil
				}
				if !more {
					drained = true
					break
				}
			}
			if !drained {
				// Records still in this ring must not be overtaken: the
				// writer merges only up to the oldest of them.
				if peek = ring.Peek(peek); peek != nil {
					if t, _, ok := perf.RecordTime(peek); ok && t < safe {
						safe, oldest = t, qi
					}
				}
			}
		}
		if throttled && safe <= lastPass {
			stuck++
		} else {
			stuck = 0
		}
		if stuck >= 3 {
			// Memory is full of records younger than the oldest one left
			// in a ring: read that ring once beyond the memory cap, so
			// that the merge moves on in time order.
			force, stuck = oldest, 0
		}
		lastPass = max(lastPass, safe)
		pass = safe
		if stopping {
			if throttled && !c.forced() {
				// Let the writer free chunks (it merges at pass markers), then
				// read the rest.
				if !send(item{pass: pass}) {
					return nil
				}
				time.Sleep(time.Millisecond)
				continue
			}
			send(item{final: true})
			return nil
		}
		if !send(item{pass: pass}) {
			return nil
		}
		timeout := pollTimeout
		if throttled {
			timeout = time.Millisecond
		}
		if o.Duration > 0 {
			timeout = max(min(timeout, o.Duration-time.Since(start)), 0)
		}
		var err error
		_, _, hups, err = c.poller.Wait(int(timeout.Milliseconds())+1, hups)
		if err != nil {
			return err
		}
		for _, qi := range hups {
			c.poller.Remove(c.rings[qi].FD())
		}
	}
}

// smallChunk is the size of the chunks for rings with little pending
// data, so that quiet rings do not pin large chunks against the memory cap.
const smallChunk = 16 << 10

// getChunk returns a pooled chunk, a new one, or nil when chunk memory
// (in use or pooled) has reached memCap and overCap is false. Chunks are pooled rather than
// left to the GC: fresh memory costs a page fault per 4 KiB copied.
func (c *capture) getChunk(pending int, overCap bool) *chunk {
	large, size := true, c.chunkBytes
	if pending <= smallChunk {
		large, size = false, smallChunk
	}
	if ch := c.pool.get(large); ch != nil {
		return ch
	}
	if c.inflight.Load() >= c.memCap && !overCap {
		// Pooled chunks of the other size count against the cap too.
		return c.pool.get(!large)
	}
	c.inflight.Add(int64(size))
	return &chunk{data: make([]byte, 0, size)}
}

// release recycles a chunk whose records are all written (it stays
// counted in inflight).
func (c *capture) release(ch *chunk) {
	ch.live = 0
	c.pool.put(ch, cap(ch.data) >= c.chunkBytes)
}

// chunkPool holds the chunks free for reuse, large and small. It hands out
// the most recently released one first: its pages are mapped and likely
// still in cache, and a steady capture cycles through few chunks, where a
// FIFO would touch every chunk ever allocated.
type chunkPool struct {
	mu           sync.Mutex
	large, small []*chunk
}

func (p *chunkPool) get(large bool) *chunk {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &p.small
	if large {
		s = &p.large
	}
	n := len(*s)
	if n == 0 {
		return nil
	}
	ch := (*s)[n-1]
	(*s)[n-1] = nil
	*s = (*s)[:n-1]
	return ch
}

func (p *chunkPool) put(ch *chunk, large bool) {
	p.mu.Lock()
	if large {
		p.large = append(p.large, ch)
	} else {
		p.small = append(p.small, ch)
	}
	p.mu.Unlock()
}

// writer indexes the chunks and, at each pass marker, writes in time order
// every record older than the marker minus the lag window.
func (c *capture) writer(items <-chan item) error {
	o := c.opts
	every := o.ProgressEvery
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	nextProgress := time.Now().Add(every)
	for {
		var it item
		var ok bool
		select {
		case it, ok = <-items:
		case <-o.Force:
			return nil
		}
		if !ok {
			return nil // the reader stopped without a final pass (forced)
		}
		if it.ch != nil {
			n, bad := c.qs[it.q].add(it.ch)
			c.records += uint64(n)
			if bad > 0 {
				c.malformed++
			}
			if it.ch.live == 0 {
				c.release(it.ch)
			}
			continue
		}
		cutoff := ^uint64(0)
		if !it.final {
			cutoff = 0
			if lag := uint64(lagWindow); it.pass > lag {
				cutoff = it.pass - lag
			}
		}
		if err := c.merge.run(cutoff, c.emit, c.release); err != nil {
			if errors.Is(err, errForced) {
				return nil // what is left is counted lost by account
			}
			return err
		}
		for _, q := range c.qs {
			q.compact()
		}
		if c.syms != nil {
			if err := c.syms.flushUser(c.out); err != nil {
				return fmt.Errorf("write %s: %w", c.path, err)
			}
		}
		if it.final {
			return nil
		}
		if err := c.checkRotate(cutoff); err != nil {
			return err
		}
		if err := c.checkSnapshot(); err != nil {
			return err
		}
		if c.trackTasks && len(c.tracked) > 1024 {
			c.purgeTracked(it.pass)
		}
		o.gc.check()
		wall := time.Now()
		if err := c.out.Tick(wall); err != nil {
			return fmt.Errorf("write %s: %w", o.Output, err)
		}
		if o.Progress != nil && !wall.Before(nextProgress) {
			o.Progress(c.stats())
			nextProgress = wall.Add(every)
		}
	}
}

// emit writes one record. It allocates nothing for samples.
func (c *capture) emit(qi int, r []byte) error {
	typ, misc, _ := perf.RecordHeader(r)
	if t, _, _ := perf.RecordTime(r); t < c.emittedNS {
		c.late++
	} else {
		c.emittedNS = t
	}
	switch typ {
	case perf.RecordSample:
		return c.emitSample(qi, r)
	case perf.RecordComm:
		pid, tid, name, ok := perf.Comm(r)
		if !ok {
			return nil
		}
		t, _, _ := perf.RecordTime(r)
		tc := c.comms[tid]
		comm := tc.comm
		if comm != string(name) || tc.pid != pid {
			if comm != string(name) {
				comm = string(name)
			}
			c.comms[tid] = taskComm{pid: pid, comm: comm}
		}
		if misc&perf.MiscCommExec != 0 && c.syms != nil && pid == tid {
			c.syms.exec(pid)
		}
		return c.out.AddComm(format.Comm{PID: pid, TID: tid, Time: t, Comm: comm})
	case perf.RecordFork:
		pid, ppid, tid, ptid, ok := perf.Task(r)
		if !ok {
			return nil
		}
		if c.syms != nil && pid != ppid {
			c.syms.fork(pid, ppid)
		}
		if c.trackTasks {
			c.tracked[tid] = 0 // per-task dummies report only traced tasks' forks
		}
		if tc, ok := c.comms[ptid]; ok {
			t, _, _ := perf.RecordTime(r)
			comm := tc.comm
			c.comms[tid] = taskComm{pid: pid, comm: comm}
			return c.out.AddComm(format.Comm{PID: pid, TID: tid, Time: t, Comm: comm})
		}
	case perf.RecordExit:
		// Records are merged in time order, so every sample of the task is
		// written already: forget it to keep long captures bounded.
		if pid, _, tid, _, ok := perf.Task(r); ok {
			if c.snap != nil {
				t, _, _ := perf.RecordTime(r)
				c.taskExited(tid, c.comms[tid], t)
			}
			delete(c.comms, tid)
			if c.cg != nil {
				delete(c.cg.tids, tid)
			}
			if c.trackTasks {
				// Some kernels (6.1, 6.12) tear the task's perf context down,
				// writing this record, before sched_process_exit fires: keep
				// the task a while for the wide sources.
				t, _, _ := perf.RecordTime(r)
				c.tracked[tid] = max(t, 1)
			}
			if c.syms != nil && pid == tid {
				c.syms.exit(pid)
			}
		}
	case perf.RecordMmap:
		if pid, addr, length, pgoff, path, ok := perf.Mmap(r); ok && c.syms != nil {
			c.syms.mmap(pid, addr, length, pgoff, path)
		}
	case perf.RecordCgroup:
		if id, path, ok := perf.Cgroup(r); ok && c.cg != nil {
			c.cg.paths[id] = string(path)
		}
	case perf.RecordLost, perf.RecordLostSamples:
		n, ok := perf.Lost(r)
		if !ok || n == 0 {
			return nil
		}
		t, id, _ := perf.RecordTime(r)
		src := int32(-1)
		if typ == perf.RecordLostSamples {
			src = c.sourceOf(id)
		} else if len(c.sources) == 1 {
			src = 0 // one source: the ring only carries its samples (and task records)
		}
		l := format.Lost{Time: t, CPU: c.cpuOf[qi], Source: ^uint32(0), Count: n}
		if src >= 0 {
			l.Source = uint32(src)
		}
		c.lostCPU[qi] += n
		c.lostTotal += n
		return c.out.AddLost(l)
	}
	return nil
}

// emitSample writes one SAMPLE record: the hot path, once per event.
func (c *capture) emitSample(qi int, r []byte) error {
	if c.aborted.Load() {
		return errForced // a forced stop: account counts the rest lost
	}
	ps := &c.psamp
	if !perf.ParseSample(r, c.opts.CallGraph, ps) {
		c.unmatched++
		return nil
	}
	src := c.sourceOf(ps.ID)
	if src < 0 {
		c.unmatched++
		return nil
	}
	so := c.sources[src]
	c.weightCPU[src][qi] += ps.Period
	if so.wide && !c.isTracked(ps.TID, ps.Time) {
		c.filteredCPU[src][qi]++
		return nil
	}
	s := &c.sample
	s.Source, s.Time, s.CPU, s.PID, s.TID = uint32(src), ps.Time, ps.CPU, ps.PID, ps.TID
	// Most events count one; only a count is worth 8 bytes per sample.
	s.Period, s.HasPeriod = ps.Period, ps.Period != 1
	if s.HasPeriod {
		c.counted[src] = true
	}
	s.Raw = ps.Raw[:so.layout.rawLen(ps.Raw)]
	if c.opts.CallGraph {
		s.Callchain = ps.AppendChain(s.Callchain[:0])
		c.syms.see(ps.PID, s.Callchain)
	}
	if c.cg != nil {
		if id, ok := ps.Cgroup(); ok {
			if err := c.cg.sample(c.out, ps.PID, ps.TID, ps.Time, id); err != nil {
				return fmt.Errorf("write %s: %w", c.opts.Output, err)
			}
		}
	}
	c.recvCPU[src][qi]++
	c.lastNS = ps.Time
	if err := c.out.WriteSample(s); err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	if c.trig != nil {
		c.trig.see(c, s)
	}
	if c.sizeCheck--; c.sizeCheck <= 0 {
		c.sizeCheck = sizeCheckEvery
		if c.opts.sizeLimited() {
			return c.checkSize(ps.Time)
		}
	}
	return nil
}

// received returns the samples of source i written so far.
func (c *capture) received(i int) uint64 {
	var n uint64
	for _, v := range c.recvCPU[i] {
		n += v
	}
	return n
}

// account settles the loss exactly once the events are disabled: each
// event's counter says how often it fired; whatever was not written is
// lost. This also catches the loss the kernel had not reported yet (it
// writes a LOST record only when the ring has room again, which never
// happens once recording stops). The unreported part is written as final
// Lost records, per CPU.
//
// A counted tracepoint's counter sums the counts of its hits, not the hits:
// its loss shows as counts missing, and the number of samples behind them
// is the ring's reported loss beyond the other sources' (at least one).
func (c *capture) account() error {
	fired := make([][]uint64, len(c.sources))
	for i := range fired {
		fired[i] = make([]uint64, len(c.qs))
	}
	for _, sf := range c.srcFDs {
		n, err := perf.Count(sf.fd)
		if err != nil {
			return fmt.Errorf("%s: %w", c.sources[sf.src].desc.Name, err)
		}
		fired[sf.src][sf.q] += n
	}
	end := max(c.lastNS, monotonicNS())
	c.lostTotal = 0
	for q := range c.qs {
		missing := uint64(0)
		single := int32(-1)
		lostOf := make([]uint64, len(c.sources))
		var countedLost []int // counted sources with counts missing
		for s := range c.sources {
			if c.counted[s] {
				if fired[s][q] > c.weightCPU[s][q] {
					countedLost = append(countedLost, s)
				}
				continue
			}
			if got := c.recvCPU[s][q] + c.filteredCPU[s][q]; fired[s][q] > got {
				lostOf[s] = fired[s][q] - got
			}
		}
		if len(countedLost) > 0 {
			var others uint64
			for _, d := range lostOf {
				others += d
			}
			ring := c.lostCPU[q] - min(c.lostCPU[q], others)
			for i, s := range countedLost {
				lostOf[s] = 1
				if i == 0 {
					lostOf[s] = max(1, ring-min(ring, uint64(len(countedLost)-1)))
				}
			}
		}
		for s, d := range lostOf {
			if d == 0 {
				continue
			}
			c.drop[s] += d
			missing += d
			if single == -1 {
				single = int32(s)
			} else {
				single = -2
			}
		}
		c.lostTotal += missing
		if missing > 0 && c.lostCPU[q] == 0 && single == -2 {
			// No loss reported by the kernel on this CPU (a forced stop
			// discarding what was read or left in the ring): the counters
			// give each source's share exactly.
			for s, d := range lostOf {
				if d > 0 {
					if err := c.out.AddLost(format.Lost{Time: end, CPU: c.cpuOf[q], Source: uint32(s), Count: d}); err != nil {
						return fmt.Errorf("write %s: %w", c.opts.Output, err)
					}
				}
			}
			continue
		}
		if missing > c.lostCPU[q] {
			l := format.Lost{Time: end, CPU: c.cpuOf[q], Source: ^uint32(0), Count: missing - c.lostCPU[q]}
			if single >= 0 {
				l.Source = uint32(single)
			}
			if err := c.out.AddLost(l); err != nil {
				return fmt.Errorf("write %s: %w", c.opts.Output, err)
			}
		}
	}
	// Hits the kernel missed never reach the counters: kretprobe instances
	// beyond maxactive are only in kprobe_profile.
	for i, s := range c.sources {
		if n, ok := c.resolver.probeMisses(s); ok && n > 0 {
			c.drop[i] += n
			c.lostTotal += n
			if err := c.out.AddLost(format.Lost{Time: end, CPU: ^uint32(0), Source: uint32(i), Count: n}); err != nil {
				return fmt.Errorf("write %s: %w", c.opts.Output, err)
			}
		}
	}
	return nil
}

// exitGrace is how long after its EXIT record a task's samples from wide
// sources are still kept.
const exitGrace = uint64(time.Second)

// isTracked reports whether tid belongs to the traced tasks at time t.
func (c *capture) isTracked(tid uint32, t uint64) bool {
	exit, ok := c.tracked[tid]
	return ok && (exit == 0 || t <= exit+exitGrace)
}

// purgeTracked forgets tasks that exited long before now (sample clock).
func (c *capture) purgeTracked(now uint64) {
	for tid, exit := range c.tracked {
		if exit != 0 && exit+2*exitGrace < now {
			delete(c.tracked, tid)
		}
	}
}

// stats returns the counts so far.
func (c *capture) stats() Stats {
	st := Stats{Lost: c.lostTotal, Unmatched: c.unmatched, Records: c.records, Late: c.late, Malformed: c.malformed}
	st.Elapsed = time.Duration(monotonicNS() - c.startNS)
	for i, s := range c.sources {
		n := c.received(i)
		st.Samples += n
		st.Sources = append(st.Sources, SourceStats{Name: s.desc.Name, Kind: s.desc.Kind.String(), Samples: n, Lost: c.drop[i]})
	}
	if c.out != nil {
		st.Bytes, st.RawBytes = c.out.CompressedBytes(), c.out.RawBytes()
		if c.rot != nil {
			if c.closed {
				st.Bytes, st.RawBytes = 0, 0 // counted in closedBytes
			}
			st.Bytes += c.rot.closedBytes
			st.RawBytes += c.rot.closedRaw
		}
		if c.snap != nil {
			// What reached the disk: the snapshots.
			st.Bytes = 0
			for _, f := range c.snap.files {
				st.Bytes += f.Bytes
			}
		}
	}
	return st
}

// finish writes symbols and statistics and closes the (last) file.
func (c *capture) finish() error {
	if c.out == nil {
		return nil
	}
	var serr error
	if c.snap != nil && c.snap.pending != "" {
		// A trigger's --after delay outlived the recording: write it now.
		why := c.snap.pending
		c.snap.pending = ""
		serr = c.writeSnapshot(why)
	}
	_, err := c.closeFile(max(c.lastNS, monotonicNS()), true)
	if serr != nil {
		return serr
	}
	c.closed = true
	return err
}

// filterError explains a filter the kernel refused: its error_log entry
// when it wrote one, else the fields the event has.
func filterError(filter string, s *source, err error, r *resolver, before string) error {
	msg := fmt.Sprintf("filter %q rejected by the kernel for %s: %v", filter, s.desc.Name, err)
	if r.fs != nil {
		if after := r.fs.ErrorLog(); after != before && after != "" {
			return &UsageError{msg + "\n" + after}
		}
	}
	if s.layout != nil {
		names := make([]string, 0, len(s.layout.fields))
		for f := range s.layout.fields {
			names = append(names, f)
		}
		slices.Sort(names)
		msg += fmt.Sprintf(" (check the operators and value types; %s has fields %s)", s.desc.Name, strings.Join(names, ", "))
	}
	return &UsageError{msg}
}
