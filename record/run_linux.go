//go:build linux

package record

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/perf"
	"github.com/kpcap/kpcap/record/probedef"
)

// slowReleaseEvents is the number of perf events above which closing them
// takes long enough (seconds) to be announced.
const slowReleaseEvents = 200

// Run records until ctx is cancelled, the duration elapses, the traced
// command or process exits, or opts.Force is closed. The file is finalized
// and every dynamic probe removed on all of these paths.
func Run(ctx context.Context, opts Options) (res *Result, err error) {
	o := &opts
	if o.Output == "" {
		o.Output = DefaultOutput
	}
	if err := checkTargets(o); err != nil {
		return nil, err
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
	probes, usdts, globs, err := splitProbes(o.Probes)
	if err != nil {
		return nil, err
	}
	r := &resolver{notice: notice, names: map[string]bool{}, inherit: o.PID != 0 || len(o.Command) > 0, attaching: o.Attaching}
	defer func() {
		if cerr := r.cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	r.sweepStale()
	if len(o.Events) == 0 && len(o.Probes) == 0 {
		err = r.addDefaults()
	} else {
		err = r.addRequested(o, probes, usdts, globs)
	}
	if err != nil {
		return nil, err
	}
	return runSources(ctx, o, r, res, cpus)
}

// checkTargets refuses options that name what to follow twice over.
func checkTargets(o *Options) error {
	if o.PID != 0 && len(o.Command) > 0 {
		return optionUsage("PID", "", "cannot be combined with a command")
	}
	if o.PID < 0 {
		return optionUsage("PID", strconv.Itoa(o.PID), "not a process id")
	}
	if len(o.Cgroups) > 0 && (o.PID != 0 || len(o.Command) > 0) {
		return optionUsage("Cgroups", "", "cannot be combined with a process or a command to follow")
	}
	return nil
}

// splitProbes parses the probe definitions: plain probes, USDT markers
// and patterns (expanded once tracefs is at hand).
func splitProbes(defs []string) (probes []*probedef.Probe, usdts []*usdtDef, globs []string, err error) {
	var plain []string
	for _, def := range defs {
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
			return nil, nil, nil, err
		}
		usdts = append(usdts, d)
	}
	probes, err = parseProbes(plain)
	return probes, usdts, globs, err
}

// sweepStale removes the probes of dead kpcap processes, with a notice.
func (r *resolver) sweepStale() {
	fs, err := r.tracefs()
	if err != nil {
		return
	}
	removed, err := fs.SweepStale()
	if len(removed) > 0 {
		r.notice(fmt.Sprintf("removed %d probe(s) left by dead kpcap processes: %s", len(removed), strings.Join(removed, ", ")))
	}
	if err != nil {
		r.notice(fmt.Sprintf("could not remove every stale kpcap probe: %v", err))
	}
}

// addDefaults adds the default events and, where kprobes work, the default
// probes; a missing one is skipped with a notice.
func (r *resolver) addDefaults() error {
	if err := r.addEvents(DefaultEvents, true); err != nil {
		return err
	}
	if r.kprobesAvailable() {
		dp, err := parseProbes(DefaultProbes)
		if err != nil {
			// No BTF (or no do_sys_openat2 in it): the same fields by register.
			if dp, err = parseProbes(DefaultProbesNoBTF); err != nil {
				return err
			}
		}
		for _, p := range dp {
			if err := r.addProbe(p); err != nil {
				r.notice(fmt.Sprintf("skipping default probe %s: %v", p.Name(), err))
			}
		}
	} else {
		r.notice("kprobes unavailable (kernel built without CONFIG_KPROBES / CONFIG_KPROBE_EVENTS): skipping the default kprobes:openat2 probes")
	}
	if len(r.sources) == 0 {
		return ErrNoDefaultEvents
	}
	return nil
}

// addRequested adds the events and probes the options name.
func (r *resolver) addRequested(o *Options, probes []*probedef.Probe, usdts []*usdtDef, globs []string) error {
	if err := r.addEvents(o.Events, false); err != nil {
		return err
	}
	for _, p := range probes {
		if err := r.addProbe(p); err != nil {
			return err
		}
	}
	for _, d := range usdts {
		if err := r.addUSDT(d, o.PID); err != nil {
			return err
		}
	}
	return r.addGlobs(globs, o.MaxProbes)
}

// runSources records the resolved sources of r into o.Output.
func runSources(ctx context.Context, o *Options, r *resolver, res *Result, cpus []int) (*Result, error) {
	c, err := newCapture(o, r, res, cpus)
	if err != nil {
		return nil, err
	}
	defer c.closeEvents() // before r.cleanup: probes in use cannot be deleted
	if len(o.Cgroups) > 0 {
		if c.cg, err = resolveCgroups(o.Cgroups); err != nil {
			return nil, err
		}
		defer c.cg.close()
		if c.cg.perSample = probeCgroupSampling(cpus[0]); !c.cg.perSample && o.Notice != nil {
			o.Notice("this kernel does not record each sample's cgroup (PERF_SAMPLE_CGROUP needs Linux 5.7+): events are restricted to the cgroups, but the file cannot tell them apart (no analysis by cgroup)")
		}
	}
	var child *childProc
	if len(o.Command) > 0 {
		if child, err = startChild(o.Command); err != nil {
			return nil, err
		}
		defer child.abort()
	}
	if err := c.prepare(r, child); err != nil {
		return nil, err
	}
	c.err = c.start(child)
	if c.err == nil {
		c.loop(ctx, child)
	}
	return c.stop(child)
}

// newCapture applies the filter and picks each source's path and scope,
// then makes the capture of r's sources on cpus.
func newCapture(o *Options, r *resolver, res *Result, cpus []int) (*capture, error) {
	if err := applyFilter(o.Filter, r.sources); err != nil {
		return nil, err
	}
	if o.PID != 0 || len(o.Command) > 0 {
		for _, s := range r.sources {
			s.wide = s.desc.Kind == format.KindTracepoint && perTaskBlind[s.desc.Name]
		}
	}
	c := &capture{opts: o, sources: r.sources, cpus: cpus, comms: map[uint32]taskComm{}, resolver: r, res: res, bpfQ0: math.MaxInt}
	if err := choosePaths(o, r.sources, c.notice); err != nil {
		return nil, err
	}
	c.tracked, c.trackTasks = map[uint32]uint64{}, o.PID != 0 || len(o.Command) > 0
	c.drop = make([]uint64, len(c.sources))
	return c, nil
}

// prepare opens the events, sets up the triggers and the output file, and
// takes the start time and the initial process names.
func (c *capture) prepare(r *resolver, child *childProc) error {
	o := c.opts
	if err := c.open(r, child); err != nil {
		return err
	}
	if err := c.setupTriggers(); err != nil {
		return err
	}
	if err := c.createOutput(); err != nil {
		return err
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
	return nil
}

// stop disables the events, accounts for what they saw, finalizes the file
// and fills in the result.
func (c *capture) stop(child *childProc) (*Result, error) {
	o, res := c.opts, c.res
	for _, fd := range c.fds { // already done unless the loop failed
		perf.Disable(fd)
	}
	c.enableBPF(false)
	if child != nil {
		res.ExitCode = child.exitCode()
	}
	if c.err == nil {
		c.err = c.account()
	}
	cerr := c.finish()
	slow := slowReleaseEvents
	if o.slowRelease > 0 {
		slow = o.slowRelease
	}
	if cerr == nil && len(c.fds) > slow && o.Notice != nil {
		// Closing each tracepoint event waits for the kernel to unregister
		// it (tens of ms each): say the file is safe meanwhile. Not a
		// Result notice: it is about this moment only.
		o.Notice(fmt.Sprintf("trace finalized; releasing %d kernel events...", len(c.fds)))
	}
	c.fillResult()
	if c.err != nil {
		return res, c.err
	}
	return res, cerr
}

// applyFilter marks the sources that have the fields of filter (the
// kernel applies it to those); none having them is a usage error.
func applyFilter(filter string, sources []*source) error {
	if filter == "" {
		return nil
	}
	fields := filterFields(filter)
	n := 0
	for _, s := range sources {
		if filterApplies(fields, s.layout) {
			s.filter, s.desc.Filter = true, filter
			n++
		}
	}
	if n == 0 {
		return &UsageError{fmt.Sprintf("filter %q uses fields (%s) that no event source has", filter, strings.Join(fields, ", "))}
	}
	return nil
}

// start enables the events (for a command, the wide sources only:
// enable_on_exec does the others), tells Options.Started, and lets the
// command exec.
func (c *capture) start(child *childProc) error {
	enable := c.fds
	if child != nil {
		enable = c.wideFDs
	}
	for _, fd := range enable {
		if err := perf.Enable(fd); err != nil {
			return fmt.Errorf("enable events: %w", err)
		}
	}
	if err := c.enableBPF(true); err != nil {
		return err
	}
	if o := c.opts; o.Started != nil {
		o.Started(StartInfo{Sources: len(c.sources), CPUs: len(c.cpus), Events: len(c.fds), Output: cmp.Or(c.path, o.Output)})
	}
	if child != nil {
		return child.release()
	}
	return nil
}

// fillResult puts the final counts, notices and files into c.res.
func (c *capture) fillResult() {
	res := c.res
	res.Stats = c.stats()
	if res.Late > 0 {
		c.notice(fmt.Sprintf("%d records arrived more than %v late and are slightly out of time order", res.Late, lagWindow))
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
}
