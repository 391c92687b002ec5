//go:build linux

package record

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/bpfprog"
	"golang.org/x/sys/unix"
)

// isProbe reports whether s is a kprobe, kretprobe, uprobe or uretprobe
// (fprobes are stored as kprobes too: s.dynEvents tells them apart).
func isProbe(s *source) bool {
	switch s.desc.Kind {
	case format.KindKprobe, format.KindKretprobe, format.KindUprobe, format.KindUretprobe:
		return true
	}
	return false
}

// formatField is one field line of a tracefs format.
type formatField struct {
	decl      string // "unsigned long __probe_ip", "__data_loc char[] s"
	off, size int
	signed    bool
}

// parseFields maps the field names of a format text to their lines.
func parseFields(text string) map[string]formatField {
	out := map[string]formatField{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "field:") {
			continue
		}
		var f formatField
		f.off, f.size = -1, -1
		for _, part := range strings.Split(line, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), ":")
			switch k {
			case "field":
				f.decl = v
			case "offset":
				f.off, _ = strconv.Atoi(v)
			case "size":
				f.size, _ = strconv.Atoi(v)
			case "signed":
				f.signed = v == "1"
			}
		}
		name := f.decl[strings.LastIndexAny(f.decl, " *")+1:]
		if i := strings.IndexByte(name, '['); i >= 0 {
			name = name[:i]
		}
		out[name] = f
	}
	return out
}

// scalarTypes are the fetch types a probe program writes as they are:
// integers of 1 to 8 bytes (symbol is an address printed as a symbol).
var scalarTypes = map[string]bool{
	"": true, "u8": true, "u16": true, "u32": true, "u64": true, "s8": true, "s16": true, "s32": true, "s64": true,
	"x8": true, "x16": true, "x32": true, "x64": true, "char": true, "symbol": true,
}

// probeSpec describes the BPF program of probe source s, or says why s
// cannot have one.
func probeSpec(s *source) (bpfprog.ProbeSpec, string) {
	kind := s.desc.Kind
	spec := bpfprog.ProbeSpec{
		Kernel: kind == format.KindKprobe || kind == format.KindKretprobe,
		Return: kind == format.KindKretprobe || kind == format.KindUretprobe,
	}
	switch {
	case s.dynEvents:
		return spec, "fprobes have no BPF attachment through their perf event"
	case s.probe == nil:
		return spec, "its probe definition is unknown"
	case s.layout == nil:
		return spec, "its format is unknown"
	}
	fields := parseFields(s.desc.Format)
	head := "__probe_ip"
	if spec.Return {
		head = "__probe_func"
		if r, ok := fields["__probe_ret_ip"]; !ok || r.off != fields[head].off+8 || r.size != 8 {
			return spec, "its format has no __probe_ret_ip after __probe_func"
		}
	}
	h, ok := fields[head]
	if !ok || h.size != 8 {
		return spec, "its format has no 8-byte " + head
	}
	spec.Head, spec.Fixed = h.off, s.layout.fixed
	for i, a := range s.probe.Args {
		name := a.FieldName(i)
		f, ok := fields[name]
		if !ok {
			return spec, fmt.Sprintf("fetch argument %s has no field %s in the format", a.Raw, name)
		}
		arg := bpfprog.Arg{Fetch: a.Fetch, Off: f.off, Size: f.size}
		typ := a.Type
		if typ == "" && strings.HasPrefix(f.decl, "__data_loc char[] ") {
			typ = "string" // $comm and string immediates are strings untyped
		}
		var err error
		switch {
		case (typ == "string" || typ == "ustring") && strings.HasPrefix(f.decl, "__data_loc char[] ") && f.size == 4:
			arg.String = typ
			err = bpfprog.CheckString(a.Fetch, typ, spec.Kernel, spec.Return)
		case !scalarTypes[a.Type] || strings.Contains(f.decl, "[") || strings.HasPrefix(f.decl, "__"):
			return spec, fmt.Sprintf("fetch argument %s: arrays, bitfields and symstr are not written by BPF programs yet", a.Raw)
		default:
			err = bpfprog.CheckArg(a.Fetch, spec.Kernel, spec.Return)
		}
		if err != nil {
			if !errors.Is(err, bpfprog.ErrFetch) {
				return spec, err.Error()
			}
			return spec, strings.TrimSuffix(err.Error(), ": "+bpfprog.ErrFetch.Error())
		}
		spec.Args = append(spec.Args, arg)
	}
	return spec, ""
}

// loadProbe loads the program of BPF source i, probe source si, and
// attaches it to a perf event of the probe on the first recorded CPU,
// opened as the perf path opens it (the kprobe or uprobe PMU, or the
// tracefs event of a probe with fetch arguments) but never enabled: the
// program runs on every CPU without it.
func (b *bpfCapture) loadProbe(c *capture, i int, si int32) error {
	s := c.sources[si]
	spec, why := probeSpec(s)
	if why != "" {
		return fmt.Errorf("%s: %s", s.desc.Name, why)
	}
	spec.Stack = b.stack()
	if s.filter {
		spec.Filter, _ = bpfFilter(c.opts, s) // bpfReason compiled it already
	}
	prog, pi, err := b.set.Probe(uint32(i), spec)
	if err != nil {
		return fmt.Errorf("%s: %w", s.desc.Name, err)
	}
	a := s.attr
	a.CallGraph, a.Inherit, a.EnableOnExec, a.SampleCgroup = false, false, false, false
	if err := b.attach(c, i, si, a, prog, pi); err != nil {
		return err
	}
	if s.attr.Type != unix.PERF_TYPE_TRACEPOINT {
		// A PMU probe's event type is its own, unknown here (its format
		// says ID 0).
		b.types[i] = 0
	}
	return nil
}
