//go:build linux

package record

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/perf"
	"github.com/kpcap/kpcap/record/internal/tracefs"
	"github.com/kpcap/kpcap/record/probedef"
	"golang.org/x/sys/unix"
)

// source is one event source being recorded: its file description and how
// to open it.
type source struct {
	desc   format.Source
	attr   perf.Attr
	layout *eventLayout
	filter bool // apply Options.Filter
	// wide: opened CPU-wide and filtered in user space to the traced tasks,
	// for events that per-task perf contexts miss (see perTaskBlind).
	wide bool
	// dynamic tracefs event to delete at the end ("" for none)
	dynGroup, dynEvent string
	dynUprobe          bool
	dynEvents          bool            // created through dynamic_events (f, t, e probes)
	probe              *probedef.Probe // the parsed probe of a kprobe or uprobe source
}

// ErrNoKprobes explains a kernel without kprobe support.
var ErrNoKprobes = errors.New("this kernel has no kprobes: it was built without CONFIG_KPROBES / CONFIG_KPROBE_EVENTS (tracepoints and uprobes still work)")

// resolver turns -e and -p arguments into sources.
type resolver struct {
	fs      *tracefs.FS
	fsErr   error
	notice  func(string)
	sources []*source
	names   map[string]bool
	// inherit: events follow tasks (--pid, command). Probe PMU events
	// cannot be inherited (the kernel re-reads their symbol or path pointer
	// in the forking task, and fork fails with EFAULT), so probes then go
	// through tracefs.
	inherit bool
	common  string // common_* lines of a real format on this kernel
	commEnd int
	// created dynamic events, removed by cleanup on every exit path
	created  []*source
	dynNames map[string]bool
	// attaching reports the probes created so far (Options.Attaching).
	attaching func(what string, done, total int)
}

func (r *resolver) tracefs() (*tracefs.FS, error) {
	if r.fs == nil && r.fsErr == nil {
		r.fs, r.fsErr = tracefs.Open()
		if r.fsErr != nil {
			if errors.Is(r.fsErr, os.ErrPermission) {
				r.fsErr = fmt.Errorf("%w\n(kpcap record needs root, or CAP_PERFMON+CAP_SYS_ADMIN and access to tracefs; kernel.perf_event_paranoid = %s)", r.fsErr, readSysctl("kernel.perf_event_paranoid"))
			} else {
				r.fsErr = fmt.Errorf("tracefs: %w", r.fsErr)
			}
		}
	}
	return r.fs, r.fsErr
}

func (r *resolver) add(s *source) error {
	if r.names[s.desc.Name] {
		return &UsageError{fmt.Sprintf("event source %s given twice: give each probe its own name (p:NAME ...)", s.desc.Name)}
	}
	r.names[s.desc.Name] = true
	r.sources = append(r.sources, s)
	return nil
}

// addEvents resolves tracepoint names and globs.
func (r *resolver) addEvents(defs []string, optional bool) error {
	// Every spec is checked first, so that a typo points at its bad token
	// (a *probedef.SyntaxError) whatever tracefs holds.
	for _, def := range defs {
		if _, _, err := probedef.ParseTracepoint(def); err != nil {
			return err
		}
	}
	for _, def := range defs {
		fs, err := r.tracefs()
		if err != nil {
			return err
		}
		names := []string{def}
		if strings.ContainsAny(def, `*?[\`) {
			names, err = fs.Glob(def)
			if errors.Is(err, tracefs.ErrNoEvent) {
				return &UsageError{fmt.Sprintf("tracepoints %s: %v (see %s/available_events)", def, err, fs.Dir)}
			}
			if errors.Is(err, path.ErrBadPattern) {
				return &UsageError{err.Error()}
			}
			if err != nil {
				return fmt.Errorf("tracepoints %s: %w", def, err)
			}
			if len(names) == 0 {
				return &UsageError{fmt.Sprintf("no tracepoint matches %s (see %s/available_events)", def, fs.Dir)}
			}
		}
		for _, name := range names {
			if r.names[name] {
				continue // overlapping -e patterns ('sched:*' and sched:sched_switch) name one tracepoint
			}
			g, e, _ := strings.Cut(name, ":")
			id, err := fs.EventID(g, e)
			if err != nil {
				if optional {
					r.note(fmt.Sprintf("skipping %s: not on this kernel", name))
					continue
				}
				if errors.Is(err, tracefs.ErrNoEvent) {
					return &UsageError{fmt.Sprintf("%v (see %s/available_events)", err, fs.Dir)}
				}
				return fmt.Errorf("%w (see %s/available_events)", err, fs.Dir)
			}
			text, err := fs.Format(g, e)
			if err != nil {
				return fmt.Errorf("tracepoint %s: %w", name, err)
			}
			s := &source{
				desc: format.Source{Name: name, Kind: format.KindTracepoint, Definition: def, Format: text},
				attr: perf.Attr{Type: unix.PERF_TYPE_TRACEPOINT, Config: id},
			}
			s.layout, _ = parseLayout(text)
			if r.common == "" {
				r.common, r.commEnd = commonPart(text)
			}
			if err := r.add(s); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *resolver) note(s string) {
	if r.notice != nil {
		r.notice(s)
	}
}

// kindOf maps a probe kind to the file's source kind.
// fprobes are function probes and tracepoint or event probes are trace events
// to replay, so they are stored as such; their definitions tell them apart.
func kindOf(p *probedef.Probe) format.SourceKind {
	switch p.Kind {
	case probedef.KindKprobe, probedef.KindFprobe:
		return format.KindKprobe
	case probedef.KindKretprobe, probedef.KindFretprobe:
		return format.KindKretprobe
	case probedef.KindUprobe:
		return format.KindUprobe
	case probedef.KindTprobe, probedef.KindEprobe:
		return format.KindTracepoint
	}
	return format.KindUretprobe
}

// loadBTF loads the running kernel's BTF: a variable so tests can count loads.
var loadBTF = probedef.LoadKernelBTF

// parseProbes validates every definition before anything touches the kernel,
// resolving argument names through the kernel's BTF, which is loaded only
// when a definition has names (or an untyped $retval / $argN to type).
func parseProbes(defs []string) ([]*probedef.Probe, error) {
	out := make([]*probedef.Probe, 0, len(defs))
	want := false
	readme, readmeRead := "", false
	getReadme := func() string {
		if !readmeRead {
			if fs, err := tracefs.Open(); err == nil {
				readme = fs.Readme()
			}
			readmeRead = true
		}
		return readme
	}
	for _, def := range defs {
		p, err := probedef.Parse(def)
		if err != nil {
			return nil, err
		}
		if p.IsDynEvent() {
			// A form this kernel lacks is said first, in one line, before
			// its names are looked up in BTF.
			readme := getReadme()
			if why := dynEventSupport(p, readme); readme != "" && why != "" {
				return nil, &UsageError{fmt.Sprintf("probe %s: %s", p.Name(), why)}
			}
		}
		if p.Kind == probedef.KindKprobe || p.Kind == probedef.KindKretprobe {
			// Like a kernel whose probe events know BTF, refuse $argN past
			// the prototype (older kernels accept it, and so does kpcap).
			p.KernelBTFArgs = strings.Contains(getReadme(), "<argname>")
		}
		want = want || p.WantsBTF()
		out = append(out, p)
	}
	if !want {
		return out, nil
	}
	b, berr := loadBTF()
	for _, p := range out {
		if !p.WantsBTF() {
			continue
		}
		if berr != nil {
			if p.NeedsBTF() {
				return nil, &UsageError{fmt.Sprintf("probe %q names arguments, which needs the kernel's BTF: %v\n(name arguments by position instead: $arg1, $arg2, ... or registers)", p.Def, berr)}
			}
			continue // $retval and $argN work untyped
		}
		if err := p.ResolveBTF(b); err != nil {
			return nil, err
		}
	}
	for _, p := range out {
		if !p.IsReturn() || p.IsUprobe() {
			continue
		}
		for _, a := range p.Args {
			// Linux 6.9 lists this line; older kernels refuse $argN on return.
			if strings.Contains(a.Fetch, "$arg") && getReadme() != "" && !strings.Contains(getReadme(), "kernel return probes support:") {
				return nil, &UsageError{fmt.Sprintf("probe %s: function arguments in a return probe (%s) need Linux 6.9+; record them with a p probe on the function's entry instead", p.Name(), a.Raw)}
			}
		}
	}
	return out, nil
}

// fieldTypes lists the BTF types of a resolved probe's fields for the file.
func fieldTypes(p *probedef.Probe) []format.FieldType {
	var out []format.FieldType
	for i, a := range p.Args {
		if a.CType == "" {
			continue
		}
		ft := format.FieldType{Name: a.FieldName(i), CType: a.CType}
		for v, n := range a.Enum {
			ft.Enum = append(ft.Enum, format.EnumValue{Value: v, Name: n})
		}
		slices.SortFunc(ft.Enum, func(x, y format.EnumValue) int { return cmp.Compare(x.Value, y.Value) })
		out = append(out, ft)
	}
	return out
}

// dynEventSupport says in one line why this kernel cannot create p's kind of
// dynamic event, and what works instead; "" when it can. tracefs README lists
// the forms the kernel accepts.
func dynEventSupport(p *probedef.Probe, readme string) string {
	switch p.Kind {
	case probedef.KindFprobe, probedef.KindFretprobe:
		if !strings.Contains(readme, "f[:[<group>/][<event>]]") {
			alt := "p " + p.Target()
			if p.IsReturn() {
				alt = "r " + p.Target()
			}
			return fmt.Sprintf("this kernel has no fprobe events (f): they need Linux 6.5+ with CONFIG_FPROBE_EVENTS; use a kprobe instead: %q with the same arguments", alt)
		}
	case probedef.KindTprobe:
		if !strings.Contains(readme, "t[:[<group>/][<event>]]") {
			return fmt.Sprintf("this kernel has no tracepoint probes (t): they need Linux 6.5+ with CONFIG_FPROBE_EVENTS; record the tracepoint itself instead: '*:%s'", p.Symbol)
		}
	case probedef.KindEprobe:
		if !strings.Contains(readme, "e[:[<group>/][<event>]]") {
			return fmt.Sprintf("this kernel has no event probes (e): they need Linux 5.15+ with CONFIG_EPROBE_EVENTS; record the event itself instead: %s:%s", p.System, p.Symbol)
		}
	}
	return ""
}

// kprobesAvailable reports whether kprobes can be created at all.
func (r *resolver) kprobesAvailable() bool {
	if _, err := tracefs.PMUType("kprobe"); err == nil {
		return true
	}
	fs, err := r.tracefs()
	return err == nil && fs.HasKprobes()
}

// addProbe creates one probe: through the PMU when it has no fetchargs
// (nothing can be left behind), else through tracefs under kpcap's group.
// A PMU probe the perf path opens on several CPUs becomes a tracefs probe
// when the capture opens (shareProbes).
func (r *resolver) addProbe(p *probedef.Probe) error { return r.addProbeAs(p, "", "") }

// addProbeAs is addProbe for a probe defined by def ("" for p.Def: a USDT
// marker or a pattern's match records what the user typed), probing target
// ("" for p.Target(): a pattern's match names its function). A uprobe's
// reference counter (p.RefCtr, a USDT semaphore) goes into the PMU's config
// or the tracefs definition alike.
func (r *resolver) addProbeAs(p *probedef.Probe, def, target string) error {
	name := p.Name()
	if p.Kind == probedef.KindEprobe {
		// eprobe_register (kernel/trace/trace_eprobe.c) ignores every perf
		// registration: an event probe writes only to the ftrace buffer.
		return &UsageError{fmt.Sprintf("probe %s: event probes (e) deliver nothing to perf, which kpcap records from (the kernel feeds them only to the ftrace buffer); record the event itself, %s:%s (with a filter), or probe the kernel function behind it with p or f", name, p.System, p.Symbol)}
	}
	if def == "" {
		def = p.Def
	}
	if target == "" {
		target = p.Target()
		if p.Kind == probedef.KindTprobe || p.Kind == probedef.KindEprobe {
			target = ""
		}
		if p.RefCtr != 0 { // the location, without its semaphore
			target = strings.TrimSuffix(target, fmt.Sprintf("(0x%x)", p.RefCtr))
		}
	}
	if (p.Kind == probedef.KindKprobe || p.Kind == probedef.KindKretprobe) && !r.kprobesAvailable() {
		return fmt.Errorf("probe %s: %w", name, ErrNoKprobes)
	}
	s := &source{desc: format.Source{Name: name, Kind: kindOf(p), Definition: def, Target: target, Fields: fieldTypes(p)}, probe: p}
	if p.IsUprobe() {
		st, err := os.Stat(p.Path)
		if err != nil {
			return fmt.Errorf("probe %s: %w", name, err)
		}
		// The kernel answers an offset past the end with a bare EINVAL at open.
		if p.Symbol == "" && p.Offset >= uint64(st.Size()) {
			return fmt.Errorf("probe %s: offset 0x%x is beyond the end of %s (%d bytes); give a file offset inside its code, or a symbol", name, p.Offset, p.Path, st.Size())
		}
	}
	if p.UsesPMU() && !r.inherit {
		return r.addPMUProbe(p, s)
	}
	return r.addTracefsProbe(p, s, def)
}

// addPMUProbe fills in s, probe p opened through the kprobe or uprobe PMU
// (perf_event_open creates it, nothing is written to tracefs), and adds it.
func (r *resolver) addPMUProbe(p *probedef.Probe, s *source) error {
	name := p.Name()
	pmu := "kprobe"
	if p.IsUprobe() {
		pmu = "uprobe"
	}
	typ, err := tracefs.PMUType(pmu)
	if err != nil {
		if p.IsUprobe() {
			return fmt.Errorf("probe %s: no uprobe PMU (kernel without CONFIG_UPROBE_EVENTS or older than 4.17): %w", name, err)
		}
		return fmt.Errorf("probe %s: no kprobe PMU (kernel older than 4.17?): %w", name, err)
	}
	s.attr = perf.Attr{Type: typ}
	if p.IsReturn() {
		bit, err := tracefs.RetprobeBit(pmu)
		if err != nil {
			return fmt.Errorf("probe %s: %w", name, err)
		}
		s.attr.Config = 1 << bit
	}
	switch {
	case p.IsUprobe():
		off, err := p.ResolveUprobe()
		if err != nil {
			return err // names the definition already
		}
		s.attr.Config1Str, s.attr.Config2 = p.Path, off
		if p.RefCtr != 0 {
			shift, err := refCtrShift()
			if err != nil {
				return fmt.Errorf("probe %s: %w", name, err)
			}
			s.attr.Config |= p.RefCtr << shift
		}
	case p.Symbol != "":
		sym := p.Symbol
		if p.Module != "" {
			sym = p.Module + ":" + sym
		}
		s.attr.Config1Str, s.attr.Config2 = sym, p.Offset
	default:
		s.attr.Config2 = p.Addr
	}
	if r.common == "" {
		r.loadCommon()
	}
	s.desc.Format = pmuFormat(strings.ReplaceAll(name, ":", "/"), p.IsReturn(), r.common, r.commEnd)
	s.layout, _ = parseLayout(s.desc.Format)
	return r.add(s)
}

// addTracefsProbe creates probe p in kpcap's tracefs group (for its
// fetchargs, or to follow forks), fills in s from the event it becomes and
// adds it.
func (r *resolver) addTracefsProbe(p *probedef.Probe, s *source, def string) error {
	why := "its fetchargs"
	if p.UsesPMU() {
		why = "events that follow forks (a process or a command)"
	}
	text, err := r.createTracefsProbe(p, s, def, why)
	if err != nil {
		return err
	}
	s.desc.Format = text
	s.layout, _ = parseLayout(text)
	return r.add(s)
}

// createTracefsProbe creates probe p, defined by def, in kpcap's tracefs
// group (needed for why), points s.attr at the event it becomes and records
// it for cleanup. It returns the event's format text.
func (r *resolver) createTracefsProbe(p *probedef.Probe, s *source, def, why string) (string, error) {
	name := p.Name()
	fs, err := r.tracefs()
	if err != nil {
		return "", fmt.Errorf("probe %s needs tracefs for %s: %w", name, why, err)
	}
	if p.IsUprobe() {
		if _, err := p.ResolveUprobe(); err != nil {
			return "", err
		}
	}
	group := fs.GroupName(os.Getpid())
	_, event, _ := strings.Cut(name, ":")
	base := event
	for i := 2; r.dynNames[event]; i++ { // a:x and b:x share kpcap's group
		event = fmt.Sprintf("%s_%d", base, i)
	}
	if r.dynNames == nil {
		r.dynNames = map[string]bool{}
	}
	r.dynNames[event] = true
	line := p.TracefsLine(group, event)
	if p.RefCtr != 0 && !fs.HasRefCtr() {
		return "", fmt.Errorf("probe %s: %w", name, ErrNoRefCtr)
	}
	if line != def {
		s.desc.Created = line
	}
	switch {
	case p.IsDynEvent():
		if why := dynEventSupport(p, fs.Readme()); why != "" {
			return "", &UsageError{fmt.Sprintf("probe %s: %s", name, why)}
		}
		err = fs.AddDynEvent(line)
	case p.IsUprobe():
		err = fs.AddUprobe(line)
	default:
		err = fs.AddKprobe(line)
	}
	if err != nil {
		return "", fmt.Errorf("probe %s: %w", name, err) // err carries the kernel's error_log entry
	}
	s.dynGroup, s.dynEvent, s.dynUprobe, s.dynEvents = group, event, p.IsUprobe(), p.IsDynEvent()
	r.created = append(r.created, s)
	id, err := fs.EventID(group, event)
	if err != nil {
		return "", fmt.Errorf("probe %s: %w", name, err)
	}
	text, err := fs.Format(group, event)
	if err != nil {
		return "", fmt.Errorf("probe %s: %w", name, err)
	}
	s.attr = perf.Attr{Type: unix.PERF_TYPE_TRACEPOINT, Config: id}
	return text, nil
}

// loadCommon copies the common fields from a real tracepoint format so
// synthesized PMU formats match the running kernel.
func (r *resolver) loadCommon() {
	r.common, r.commEnd = commonFields, 8
	fs, err := r.tracefs()
	if err != nil {
		return
	}
	for _, ev := range [][2]string{{"sched", "sched_process_exec"}, {"syscalls", "sys_enter_getppid"}, {"raw_syscalls", "sys_enter"}} {
		if text, err := fs.Format(ev[0], ev[1]); err == nil {
			r.common, r.commEnd = commonPart(text)
			return
		}
	}
}

// cleanup deletes every dynamic event this capture created. Event fds must
// be closed first (the kernel refuses to delete a probe in use).
func (r *resolver) cleanup() error {
	var errs []error
	start, n := time.Now(), len(r.created)
	defer func() {
		if n >= manyProbes {
			r.note(fmt.Sprintf("removed %d probes in %.2fs", n, time.Since(start).Seconds()))
		}
	}()
	for i := len(r.created) - 1; i >= 0; i-- {
		s := r.created[i]
		var err error
		switch {
		case s.dynEvents:
			err = r.fs.RemoveDynEvent(s.dynGroup, s.dynEvent)
		case s.dynUprobe:
			err = r.fs.RemoveUprobe(s.dynGroup, s.dynEvent)
		default:
			err = r.fs.RemoveKprobe(s.dynGroup, s.dynEvent)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove probe %s/%s: %w", s.dynGroup, s.dynEvent, err))
		}
	}
	r.created = nil
	return errors.Join(errs...)
}

// probeMisses returns how often the kernel missed a tracefs kprobe or
// kretprobe (the third column of kprobe_profile: kretprobe instances beyond
// maxactive, or reentrant hits). The profile lists event names without
// their group, so a name that appears twice is not trusted.
func (r *resolver) probeMisses(s *source) (uint64, bool) {
	if r.fs == nil || s.dynEvent == "" || s.dynUprobe {
		return 0, false
	}
	b, err := os.ReadFile(r.fs.Dir + "/kprobe_profile")
	if err != nil {
		return 0, false
	}
	var misses uint64
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || (f[0] != s.dynEvent && f[0] != s.dynGroup+"/"+s.dynEvent) {
			continue
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return 0, false
		}
		misses = n
		found++
	}
	return misses, found == 1
}

// perTaskBlind lists tracepoints that fire after a task's perf context is
// torn down on some kernels (sched_process_exit on 6.1 and 6.12: per-task
// events never see it). With --pid or a command they are recorded CPU-wide
// and kept for the traced tasks only.
var perTaskBlind = map[string]bool{"sched:sched_process_exit": true}
