//go:build linux

package record

import (
	"fmt"
	"strings"

	"github.com/kpcap/kpcap/record/internal/bpfprog"
	"golang.org/x/sys/unix"
)

// bpfFilter compiles the filter of options o for source s's BPF program,
// or says why it stays on the perf path (where the kernel applies it, or
// refuses it in its own words).
func bpfFilter(o *Options, s *source) (*bpfprog.Filter, string) {
	typ := int(s.attr.Config)
	// A probe with strings builds its record in a scratch map, not on
	// the program's stack.
	if isProbe(s) && len(s.layout.locs) == 0 {
		if o.CallGraph {
			return nil, "a filtered probe's call stacks do not fit its BPF program's stack"
		}
		n := bpfprog.HeaderLen + (s.layout.fixed+7)&^7
		if len(o.Cgroups) > 0 {
			n += bpfprog.CgroupIDLen // see bpfprog.SetCgroups
		}
		if n > bpfprog.MaxFilteredProbe {
			return nil, fmt.Sprintf("a filtered probe's record of %d bytes does not fit its BPF program's stack (%d)", n, bpfprog.MaxFilteredProbe)
		}
	}
	if isProbe(s) {
		if s.attr.Type != unix.PERF_TYPE_TRACEPOINT {
			// Opened through its PMU, the probe's type is its own, known
			// once open (the perf path shares a tracefs probe instead).
			typ = -1
		}
	}
	fields := map[string]bpfprog.FilterField{}
	for name, f := range parseFields(s.desc.Format) {
		if strings.HasPrefix(f.decl, "__data_loc char[] ") && f.size == 4 {
			// A string elsewhere in the record, which the variable-length
			// programs filter once they built it.
			fields[name] = bpfprog.FilterField{Off: f.off, Size: f.size, Chars: true, Array: true, Dyn: true}
			continue
		}
		if strings.HasPrefix(f.decl, "__data_loc ") || strings.HasPrefix(f.decl, "__rel_loc ") {
			continue // the perf path compares it
		}
		// The kernel's filter takes a char array for a string and a char
		// pointer for a string it follows (filter_assign_type).
		chars := strings.Contains(f.decl, "char")
		fields[name] = bpfprog.FilterField{
			Off: f.off, Size: f.size, Signed: f.signed,
			Chars: chars && strings.Contains(f.decl, "["),
			Array: strings.Contains(f.decl, "[") || chars && strings.Contains(f.decl, "*"),
		}
	}
	f, err := bpfprog.ParseFilter(o.Filter, fields, typ)
	if err != nil {
		return nil, err.Error()
	}
	return f, ""
}
