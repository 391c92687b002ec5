//go:build linux

package record

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/bpfprog"
	"github.com/kpcap/kpcap/record/internal/bpfring"
	"github.com/kpcap/kpcap/record/internal/perf"
	"golang.org/x/sys/unix"
)

// bpfCapture is the BPF path of one recording: the programs of the
// sources it carries, the ring buffer they write into and its reader.
type bpfCapture struct {
	set   *bpfprog.Set
	rd    *bpfring.Reader
	srcs  []int32 // BPF source i -> capture source index
	local []int32 // capture source index -> BPF source, -1 on the perf path
	progs []int   // BPF source i -> program index in set
	ids   []uint64
	types []uint16     // BPF source i -> common_type (the tracepoint id)
	qOf   []int        // cpu -> queue index
	q0    int          // the first BPF queue: BPF queue q0+i is CPU c.cpus[i]'s
	raw   map[int]bool // BPF sources on the raw syscall programs (no perf event)
	// attachFDs are the perf events the programs (but the raw syscall
	// ones) are attached through, closed with the programs.
	attachFDs []int
	// malformed counts ring records that could not be read (never
	// expected); the reader goroutine writes it, stats reads it.
	malformed atomic.Uint64
	tag       int32     // the ring's tag in the poller
	last      uint64    // time of the last record read
	purged    time.Time // when bpfPurgeTasks last ran
	records   uint64    // ring records read (discarded ones aside)
	// callchain: the records carry call stacks (-g) after the payload's
	// words[i] 8-byte words; chain is the call chain being made.
	callchain bool
	words     []int
	chain     []uint64
	// fixed is BPF source i's payload length, varlen whether its records
	// vary in length (see bpfPayload).
	fixed  []int
	varlen []bool
	// cgroups: the records end with the task's cgroup id (--cgroup).
	cgroups bool
}

// bpfReason returns why source s cannot take the BPF path in a capture
// with options o, or "" when it can.
func bpfReason(o *Options, s *source) string {
	switch {
	case isProbe(s):
		if _, why := probeSpec(s); why != "" {
			return why
		}
	case s.desc.Kind != format.KindTracepoint:
		return "only tracepoints and probes are on the BPF path"
	case s.dynEvents:
		return "tracepoint probes (t) have no BPF attachment through their perf event"
	}
	switch {
	case s.layout == nil:
		return "its format is unknown"
	case s.layout.fixed > bpfprog.MaxRaw:
		return fmt.Sprintf("its fields span %d bytes (BPF tracepoint programs read at most %d)", s.layout.fixed, bpfprog.MaxRaw)
	case countedTracepoint(s.desc.Name):
		return "it passes perf a count (__perf_count)"
	}
	// Apart from the switch, and last: a filter the programs can take must
	// not hide the reasons above.
	if s.filter {
		if _, why := bpfFilter(o, s); why != "" {
			return why
		}
	}
	return ""
}

// choosePaths marks the sources that take the BPF path under o.Path. With
// PathBPF a source that cannot is a usage error; with PathAuto it stays on
// the perf path and a notice says why.
func choosePaths(o *Options, sources []*source, notice func(string)) error {
	switch o.Path {
	case "", PathPerf:
		return nil
	case PathBPF, PathAuto:
	default:
		return optionUsage("Path", strconv.Quote(o.Path), "want perf, bpf or auto")
	}
	var perfOnly []string
	for _, s := range sources {
		if why := bpfReason(o, s); why != "" {
			if o.Path == PathBPF {
				return optionUsage("Path", "bpf", "%s cannot be recorded through BPF: %s (auto records it through perf)", s.desc.Name, why)
			}
			perfOnly = append(perfOnly, s.desc.Name+" ("+why+")")
			continue
		}
		s.desc.Path = PathBPF
	}
	if len(perfOnly) > 0 && notice != nil {
		notice("on the perf path: " + strings.Join(perfOnly, "; "))
	}
	return nil
}

// openBPF loads a program per BPF source and attaches it to the
// tracepoint through a perf event on CPU 0 (the program runs on every CPU;
// the event itself never samples). The gate stays closed until enableBPF.
// Under PathAuto a kernel refusing BPF moves the sources back to perf
// before anything is attached; it must run before the perf events open.
func (c *capture) openBPF(ringBytes int) error {
	var srcs []int32
	for i, s := range c.sources {
		if s.desc.Path == PathBPF {
			srcs = append(srcs, int32(i))
		}
	}
	if len(srcs) == 0 {
		return nil
	}
	b := &bpfCapture{srcs: srcs, local: make([]int32, len(c.sources)), callchain: c.opts.CallGraph}
	for i := range b.local {
		b.local[i] = -1
	}
	err := b.load(c, ringBytes)
	if err != nil {
		b.close()
		if c.opts.Path != PathAuto {
			return fmt.Errorf("BPF path: %w", err)
		}
		for _, si := range srcs {
			c.sources[si].desc.Path = ""
		}
		c.notice(fmt.Sprintf("BPF path unavailable (%v): recording every source through perf", err))
		return nil
	}
	c.bpf = b
	return nil
}

// bpfRingBytes sizes the shared BPF ring, a power of two: half the perf
// rings it replaces together, at least one of them. A ring record is 20-24
// bytes shorter than the perf sample it becomes (48 against 72 bytes for
// a getppid), so the ring still holds more events than the perf ring of
// the CPU a burst comes from, and kpcap allocates, zeroes and maps half
// the memory.
func bpfRingBytes(perCPU, ncpu int) int {
	n := perCPU
	for 2*n < perCPU*ncpu && n < 1<<30 {
		n *= 2
	}
	return n
}

// sideBandRingBytes is the size of each perf ring when every source is on
// the BPF path: the rings then carry only the dummy event's task records
// (and mmap records with call chains), a few per process, and a full-size
// ring would cost its allocation and zeroing for nothing.
const sideBandRingBytes = 1 << 20

// perfRingBytes returns the size of the per-CPU perf rings given the size
// the perf path's sources would need: sideBandRingBytes at most when no
// source is left on the perf path.
func (c *capture) perfRingBytes(ringBytes int) int {
	if c.bpf == nil {
		return ringBytes
	}
	for _, s := range c.sources {
		if s.desc.Path != PathBPF {
			return ringBytes
		}
	}
	return min(ringBytes, sideBandRingBytes)
}

func (b *bpfCapture) load(c *capture, ringBytes int) error {
	set, err := bpfprog.New(bpfRingBytes(ringBytes, len(c.cpus)), len(b.srcs))
	if err != nil {
		return err
	}
	b.set = set
	if err := b.bpfFollow(c); err != nil {
		return err
	}
	if err := b.bpfCgroups(c); err != nil {
		return err
	}
	if len(c.opts.CPUs) > 0 {
		// The programs run on every CPU: they drop the others' events.
		if err := set.SetCPUs(c.cpus); err != nil {
			return err
		}
	}
	maxCPU := 0
	for _, cpu := range c.cpus {
		maxCPU = max(maxCPU, cpu)
	}
	b.qOf = make([]int, maxCPU+1)
	for qi, cpu := range c.cpus {
		b.qOf[cpu] = qi
	}
	b.progs = make([]int, len(b.srcs))
	raw, err := b.routeSyscalls(c)
	if err != nil {
		return err
	}
	for i, si := range b.srcs {
		s := c.sources[si]
		b.local[si] = int32(i)
		b.types = append(b.types, uint16(s.attr.Config))
		b.words = append(b.words, (s.layout.fixed+7)/8)
		b.fixed = append(b.fixed, s.layout.fixed)
		b.varlen = append(b.varlen, len(s.layout.locs) > 0)
		if raw[i] {
			b.ids = append(b.ids, 0) // set below
			continue
		}
		if isProbe(s) {
			if err := b.loadProbe(c, i, si); err != nil {
				return err
			}
			continue
		}
		var f *bpfprog.Filter
		if s.filter {
			f, _ = bpfFilter(c.opts, s) // bpfReason compiled it already
		}
		prog, pi, err := b.loadTracepoint(i, s, f)
		if err != nil {
			return fmt.Errorf("%s: %w", s.desc.Name, err)
		}
		if err := b.attach(c, i, si, perf.Attr{Type: s.attr.Type, Config: s.attr.Config}, prog, pi); err != nil {
			return err
		}
	}
	b.raw = raw
	if err := b.attachFork(c); err != nil {
		return err
	}
	if b.rd, err = bpfring.Open(set.Ring()); err != nil {
		return err
	}
	b.tag = int32(len(c.cpus))
	return c.poller.AddEdge(set.Ring().FD(), b.tag)
}

// loadTracepoint loads the classic tracepoint program of BPF source i,
// tracepoint source s: the fixed-length one, or the variable-length one
// when s has dynamic (__data_loc, __rel_loc) fields.
func (b *bpfCapture) loadTracepoint(i int, s *source, f *bpfprog.Filter) (*ebpf.Program, int, error) {
	if len(s.layout.locs) == 0 {
		return b.set.Tracepoint(uint32(i), s.layout.fixed, f, b.stack())
	}
	locs := make([]bpfprog.Loc, len(s.layout.locs))
	for k, l := range s.layout.locs {
		locs[k] = bpfprog.Loc{Off: l.off, Rel: l.rel}
	}
	return b.set.VarTracepoint(uint32(i), s.layout.fixed, locs, f, b.stack())
}

// routeSyscalls puts the syscall tracepoints on the two raw syscall
// programs where the kernel has them and returns which BPF sources it
// put there; the others, or all if it has not, take a classic tracepoint
// program each.
func (b *bpfCapture) routeSyscalls(c *capture) (map[int]bool, error) {
	syscalls := false
	for i, si := range b.srcs {
		// The raw programs' call stacks start in the BPF helper, not where
		// the perf path's do.
		if nr, args, exit, ok := syscallRoute(c.sources[si]); ok && !c.opts.classicSyscalls && !c.opts.CallGraph {
			var err error
			if exit {
				err = b.set.AddSyscall(true, nr, uint32(i))
			} else {
				err = b.set.AddSyscallEntry(nr, uint32(i), args)
			}
			if err != nil {
				return nil, err
			}
			syscalls = true
		}
	}
	raw := map[int]bool{}
	if syscalls {
		idx, err := b.set.AttachSyscalls()
		if err != nil {
			b.set.DetachSyscalls()
			c.notice(fmt.Sprintf("BPF raw syscall tracepoints unavailable (%v): syscall events take classic tracepoint programs", err))
		} else {
			for i, si := range b.srcs {
				if _, _, exit, ok := syscallRoute(c.sources[si]); ok {
					raw[i] = true
					b.progs[i] = idx[bool2int(exit)]
				}
			}
		}
	}
	return raw, nil
}

// attach attaches program prog (index pi in the set) of BPF source i,
// capture source si, through a perf event of attributes a opened on the
// first recorded CPU. The event is never enabled: the program runs on
// every CPU without it, and enabled it would sample every hit on its CPU
// now that the program lets the event have them.
func (b *bpfCapture) attach(c *capture, i int, si int32, a perf.Attr, prog *ebpf.Program, pi int) error {
	fd, err := b.attachEvent(c, c.sources[si].desc.Name, a, prog)
	if err != nil {
		return err
	}
	id, err := perf.ID(fd)
	if err != nil {
		return err
	}
	c.ids[id] = si
	b.progs[i] = pi
	b.ids = append(b.ids, id)
	return nil
}

// attachEvent opens a perf event of attributes a, disabled, on the first
// recorded CPU, kept open with the programs, and attaches prog to it;
// name says whose event it is in errors.
func (b *bpfCapture) attachEvent(c *capture, name string, a perf.Attr, prog *ebpf.Program) (int, error) {
	a.Disabled = true
	fd, err := perf.Open(&a, -1, c.cpus[0])
	if err != nil {
		return -1, fmt.Errorf("%s: open the event: %w", name, err)
	}
	b.attachFDs = append(b.attachFDs, fd)
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); err != nil {
		return -1, fmt.Errorf("%s: attach the BPF program: %w", name, err)
	}
	return fd, nil
}

func (b *bpfCapture) close() {
	for _, fd := range b.attachFDs {
		unix.Close(fd)
	}
	b.attachFDs = nil
	if b.rd != nil {
		b.rd.Close()
	}
	if b.set != nil {
		b.set.Close()
	}
}

// bpfIDs gives the BPF sources without a perf event of their own (the
// raw syscall programs') sample ids above every perf event's of the
// capture, once all are open: the kernel hands ids out in sequence, so
// they stay dense (see buildDense).
func (c *capture) bpfIDs() {
	if c.bpf == nil {
		return
	}
	next := uint64(0)
	for id := range c.ids {
		next = max(next, id)
	}
	for i, si := range c.bpf.srcs {
		if c.bpf.raw[i] {
			next++
			c.bpf.ids[i] = next
			c.ids[next] = si
		}
	}
}

// bpfQueues adds the BPF queues after the rings' queues, one per CPU: the
// ring's records of one CPU come nearly in time order, as a perf ring's.
func (c *capture) bpfQueues() {
	if c.bpf == nil {
		return
	}
	c.bpfQ0, c.bpf.q0 = len(c.qs), len(c.qs)
	for _, cpu := range c.cpus {
		c.qs = append(c.qs, &cpuQueue{sorted: true})
		c.cpuOf = append(c.cpuOf, uint32(cpu))
	}
}

// bpfRingSize returns the BPF ring's data size, 0 without one.
func (c *capture) bpfRingSize() int {
	if c.bpf == nil {
		return 0
	}
	return c.bpf.rd.Size()
}

// bpfMalformed returns the BPF ring records that could not be read.
func (c *capture) bpfMalformed() uint64 {
	if c.bpf == nil {
		return 0
	}
	return c.bpf.malformed.Load()
}

func bool2int(b bool) int {
	if b {
		return 1
	}
	return 0
}

// closeBPF detaches and frees the programs and maps.
func (c *capture) closeBPF() {
	if c.bpf != nil {
		c.bpf.close()
		c.bpf = nil
	}
}

// enableBPF opens or closes the gate of the BPF programs.
func (c *capture) enableBPF(on bool) error {
	if c.bpf == nil {
		return nil
	}
	return c.bpf.set.SetEnabled(on)
}

// bpfFired adds the events the BPF programs counted, per source and
// queue, to fired (see account).
func (c *capture) bpfFired(fired [][]uint64) error {
	b := c.bpf
	if b == nil {
		return nil
	}
	for i, si := range b.srcs {
		hits, _, err := b.set.Counts(i)
		if err != nil {
			return fmt.Errorf("%s: %w", c.sources[si].desc.Name, err)
		}
		for cpu, n := range hits {
			if n == 0 {
				continue
			}
			q := b.q0
			if cpu < len(b.qOf) {
				q += b.qOf[cpu]
			}
			fired[si][q] += n
		}
	}
	return nil
}

// bpfMisses records as lost the events the kernel ran no program for
// because another BPF program was running on the CPU: they never reach
// the counters. A program serving several sources (the raw syscall
// programs) cannot tell whose events it missed: its misses are recorded
// without a source.
func (c *capture) bpfMisses(end uint64) error {
	b := c.bpf
	if b == nil {
		return nil
	}
	users := map[int][]int32{} // program -> capture sources
	for i, si := range b.srcs {
		users[b.progs[i]] = append(users[b.progs[i]], si)
	}
	for pi, srcs := range users {
		miss, err := b.set.RecursionMisses(pi)
		if err != nil || miss == 0 {
			continue
		}
		l := format.Lost{Time: end, CPU: ^uint32(0), Source: ^uint32(0), Count: miss}
		if len(srcs) == 1 {
			l.Source = uint32(srcs[0])
			c.drop[srcs[0]] += miss
		}
		c.lostTotal += miss
		if err := c.out.AddLost(l); err != nil {
			return writeError(c.opts.Output, err)
		}
	}
	return nil
}

// syscallRoute returns the syscall number, the number of arguments (entry)
// and the direction of a syscalls:sys_enter_NAME or sys_exit_NAME source
// whose format is the layout the raw syscall programs write: __syscall_nr
// at 8, then up to six 8-byte arguments from 16 (entry) or ret at 16 (exit).
func syscallRoute(s *source) (nr, nargs int, exit, ok bool) {
	if s.filter {
		return 0, 0, false, false // the raw programs see registers, not the fields
	}
	rest, found := strings.CutPrefix(s.desc.Name, "syscalls:sys_enter_")
	if !found {
		if rest, found = strings.CutPrefix(s.desc.Name, "syscalls:sys_exit_"); !found {
			return 0, 0, false, false
		}
		exit = true
	}
	if nr, ok = bpfprog.SyscallNumber(rest); !ok {
		return 0, 0, false, false
	}
	var fields [][3]string // name, offset, size
	for _, line := range strings.Split(s.desc.Format, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "field:") || strings.Contains(line, " common_") {
			continue
		}
		var f [3]string
		for _, part := range strings.Split(line, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), ":")
			switch k {
			case "field":
				f[0] = v[strings.LastIndexAny(v, " *")+1:]
			case "offset":
				f[1] = v
			case "size":
				f[2] = v
			}
		}
		fields = append(fields, f)
	}
	if len(fields) == 0 || fields[0] != [3]string{"__syscall_nr", "8", "4"} {
		return 0, 0, false, false
	}
	args := fields[1:]
	if exit {
		return nr, 0, true, len(args) == 1 && args[0] == [3]string{"ret", "16", "8"}
	}
	if len(args) > 6 {
		return 0, 0, false, false
	}
	for i, a := range args {
		if a[1] != strconv.Itoa(16+8*i) || a[2] != "8" {
			return 0, 0, false, false
		}
	}
	return nr, len(args), false, true
}
