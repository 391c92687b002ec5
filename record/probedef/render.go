package probedef

import (
	"fmt"
	"path"
	"strings"

	"github.com/kpcap/kpcap/record/internal/elfsym"
)

// Name returns "GROUP:EVENT" as the user wrote it. A missing group defaults to "kprobes" or
// "uprobes" and a missing event to a kernel-like name: p_do_sys_openat2_0, r_do_sys_openat2_0,
// p_0xffffffff81000000, p_bash_0x4f3a0 or p_bash_readline (uprobes on a symbol).
func (p *Probe) Name() string {
	g := p.Group
	if g == "" {
		switch {
		case p.IsUprobe():
			g = uprobeDefaultGr
		case p.Kind == KindFprobe || p.Kind == KindFretprobe:
			g = "fprobes"
		case p.Kind == KindTprobe:
			g = "tracepoints"
		case p.Kind == KindEprobe:
			g = "eprobes"
		default:
			g = kprobeDefaultGr
		}
	}
	e := p.Event
	if e == "" {
		e = p.defaultEvent()
	}
	return g + ":" + e
}

// defaultEvent mirrors the kernel's generated event names (trace_kprobe.c, trace_uprobe.c),
// except that uretprobes get an r_ prefix too so the two directions stay distinguishable.
func (p *Probe) defaultEvent() string {
	c := 'p'
	if p.IsReturn() {
		c = 'r'
	}
	var s string
	switch {
	case p.Kind == KindFprobe:
		s = p.Symbol + "__entry"
	case p.Kind == KindFretprobe:
		s = p.Symbol + "__exit"
	case p.Kind == KindTprobe, p.Kind == KindEprobe:
		s = p.Symbol
	case p.IsUprobe():
		tail := path.Base(p.Path)
		if i := strings.IndexAny(tail, ".-_"); i >= 0 {
			tail = tail[:i]
		}
		if p.Symbol != "" {
			s = fmt.Sprintf("%c_%s_%s", c, tail, p.Symbol)
			if p.Offset != 0 {
				s += fmt.Sprintf("_0x%x", p.Offset)
			}
		} else {
			s = fmt.Sprintf("%c_%s_0x%x", c, tail, p.Offset)
		}
	case p.Symbol == "":
		s = fmt.Sprintf("%c_0x%x", c, p.Addr)
	default:
		sym := p.Symbol
		if p.Module != "" {
			sym = p.Module + ":" + sym
		}
		s = fmt.Sprintf("%c_%s_%d", c, sym, p.Offset)
	}
	return sanitize(s)
}

// sanitize turns s into a valid event name as the kernel's sanitize_event_name does.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || isAlpha(c) || isDigit(c)) {
			b[i] = '_'
		}
	}
	if len(b) > maxNameLen {
		b = b[:maxNameLen]
	}
	return string(b)
}

// ResolveUprobe resolves a uprobe target to the file offset the kernel wants (the uprobe
// PMU's config2, or OFFSET in uprobe_events). PATH:OFFSET targets need no lookup;
// PATH:SYMBOL[+offs] targets are looked up in the binary's ELF symbols. The result is cached.
func (p *Probe) ResolveUprobe() (uint64, error) {
	if !p.IsUprobe() {
		return 0, fmt.Errorf("probe %q is not a uprobe", p.Def)
	}
	if p.Symbol == "" {
		return p.Offset, nil
	}
	if p.resolved {
		return p.fileOff, nil
	}
	off, err := elfsym.FileOffset(p.Path, p.Symbol, p.Offset)
	if err != nil {
		return 0, fmt.Errorf("probe %q: %w", p.Def, err)
	}
	p.fileOff, p.resolved = off, true
	return off, nil
}

// PMUTarget returns what the kprobe/uprobe PMU needs in perf_event_attr: name goes in config1
// (a kernel symbol "sym" or "mod:sym", "" for an address, or the uprobe binary's path) and
// offset in config2 (the offset from the symbol, the kernel address, or the uprobe file offset,
// resolved through ResolveUprobe).
func (p *Probe) PMUTarget() (name string, offset uint64, err error) {
	switch {
	case p.IsUprobe():
		off, err := p.ResolveUprobe()
		return p.Path, off, err
	case p.Symbol == "":
		return "", p.Addr, nil
	case p.Module != "":
		return p.Module + ":" + p.Symbol, p.Offset, nil
	}
	return p.Symbol, p.Offset, nil
}

// TracefsLine returns the line to write to kprobe_events or uprobe_events to create this probe
// as GROUP/EVENT (kpcap's own names; an empty group leaves the kernel default). Uprobe targets
// are written as PATH:0xFILEOFFSET: call ResolveUprobe first to get a clear error; if the
// symbol cannot be resolved the line keeps PATH:SYMBOL, which the kernel rejects.
func (p *Probe) TracefsLine(group, event string) string {
	return p.render(group, event, true)
}

// String renders the probe as a definition that parses back to the same Probe
// (with the user's group and event, and uprobe symbols unresolved).
func (p *Probe) String() string {
	return p.render(p.Group, p.Event, false)
}

func (p *Probe) render(group, event string, resolve bool) string {
	var b strings.Builder
	switch {
	case p.Kind == KindFprobe || p.Kind == KindFretprobe:
		b.WriteByte('f')
	case p.Kind == KindTprobe:
		b.WriteByte('t')
	case p.Kind == KindEprobe:
		b.WriteByte('e')
	case p.IsReturn():
		b.WriteByte('r')
		if p.MaxActive > 0 {
			fmt.Fprintf(&b, "%d", p.MaxActive)
		}
	default:
		b.WriteByte('p')
	}
	if event != "" {
		b.WriteByte(':')
		if group != "" {
			b.WriteString(group)
			b.WriteByte('/')
		}
		b.WriteString(event)
	}
	b.WriteByte(' ')
	target := p.Target()
	if resolve && p.IsUprobe() && p.Symbol != "" {
		if off, err := p.ResolveUprobe(); err == nil {
			target = fmt.Sprintf("%s:0x%x", p.Path, off)
			if p.RefCtr != 0 {
				target += fmt.Sprintf("(0x%x)", p.RefCtr)
			}
		}
	}
	if p.Kind == KindFretprobe {
		target += returnSuffix
	}
	b.WriteString(target)
	for _, a := range p.Args {
		b.WriteByte(' ')
		if a.Name != "" {
			b.WriteString(a.Name)
			b.WriteByte('=')
		}
		b.WriteString(a.Fetch)
		if a.Type != "" {
			b.WriteByte(':')
			b.WriteString(a.Type)
		}
	}
	return b.String()
}
