//go:build linux

package record

import (
	"strings"

	"github.com/kpcap/kpcap/record/internal/bpfprog"
)

// bpfFilter compiles filter for tracepoint source s's BPF program, or
// says why it stays on the perf path (where the kernel applies it, or
// refuses it in its own words).
func bpfFilter(filter string, s *source) (*bpfprog.Filter, string) {
	if isProbe(s) {
		return nil, "filters on probes are not compiled into BPF programs yet"
	}
	fields := map[string]bpfprog.FilterField{}
	for name, f := range parseFields(s.desc.Format) {
		// The kernel's filter takes a char array for a string and a char
		// pointer for a string it follows (filter_assign_type).
		chars := strings.Contains(f.decl, "char")
		fields[name] = bpfprog.FilterField{
			Off: f.off, Size: f.size, Signed: f.signed,
			Chars: chars && strings.Contains(f.decl, "["),
			Array: strings.Contains(f.decl, "[") || chars && strings.Contains(f.decl, "*"),
		}
	}
	f, err := bpfprog.ParseFilter(filter, fields, uint16(s.attr.Config))
	if err != nil {
		return nil, err.Error()
	}
	return f, ""
}
