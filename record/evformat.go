package record

import (
	"fmt"
	"strconv"
	"strings"
)

// eventLayout is what the recorder needs from a tracefs format file: field
// names (for filters) and how long a RAW payload really is (the kernel pads
// it to 8 bytes with the u32 size word).
type eventLayout struct {
	fields map[string]bool
	fixed  int      // end of the last fixed field
	locs   []dynLoc // __data_loc / __rel_loc fields
}

type dynLoc struct {
	off int
	rel bool // __rel_loc: offset counts from the end of the field
}

// parseLayout reads the field lines of a tracefs format text. Lines it does
// not understand are ignored: the layout only trims and selects.
func parseLayout(text string) (*eventLayout, error) {
	l := &eventLayout{fields: map[string]bool{}}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "field:") {
			continue
		}
		var decl string
		off, size := -1, -1
		for _, part := range strings.Split(line, ";") {
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, ":")
			if !ok {
				continue
			}
			switch k {
			case "field":
				decl = v
			case "offset":
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > 1<<16 {
					return nil, fmt.Errorf("bad offset in %q", line)
				}
				off = n
			case "size":
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > 1<<16 {
					return nil, fmt.Errorf("bad size in %q", line)
				}
				size = n
			}
		}
		if decl == "" || off < 0 || size < 0 {
			return nil, fmt.Errorf("bad field line %q", line)
		}
		name := decl
		if i := strings.LastIndexAny(name, " *"); i >= 0 {
			name = name[i+1:] // "__data_loc char[] filename", "const char * name"
		}
		if i := strings.IndexByte(name, '['); i >= 0 {
			name = name[:i] // "char comm[16]"
		}
		l.fields[name] = true
		if off+size > l.fixed {
			l.fixed = off + size
		}
		switch {
		case strings.HasPrefix(decl, "__data_loc ") && size == 4:
			l.locs = append(l.locs, dynLoc{off: off})
		case strings.HasPrefix(decl, "__rel_loc ") && size == 4:
			l.locs = append(l.locs, dynLoc{off: off, rel: true})
		}
	}
	if len(l.fields) == 0 {
		return nil, fmt.Errorf("no fields in format")
	}
	return l, nil
}

// rawLen returns the real payload length of raw: the fixed part plus every
// dynamic area it points to, never more than len(raw).
func (l *eventLayout) rawLen(raw []byte) int {
	if l == nil || l.fixed > len(raw) {
		return len(raw)
	}
	n := l.fixed
	for _, d := range l.locs {
		if d.off+4 > len(raw) {
			return len(raw)
		}
		v := uint32(raw[d.off]) | uint32(raw[d.off+1])<<8 | uint32(raw[d.off+2])<<16 | uint32(raw[d.off+3])<<24
		start, size := int(v&0xffff), int(v>>16)
		if d.rel {
			start += d.off + 4
		}
		if end := start + size; end > n {
			n = end
		}
	}
	if n > len(raw) {
		return len(raw)
	}
	return n
}

// commonFields are the trace_entry lines every format starts with; used for
// PMU probe formats when no real format is at hand to copy them from.
const commonFields = "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" +
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n" +
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n" +
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"

// commonPart returns the common_* field lines of a real format text, so a
// synthesized format matches the running kernel's trace_entry.
func commonPart(realFormat string) (lines string, end int) {
	var b strings.Builder
	for _, line := range strings.Split(realFormat, "\n") {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, "field:") || !strings.Contains(t, " common_") {
			continue
		}
		b.WriteString("\t" + t + "\n")
	}
	if b.Len() == 0 {
		return commonFields, 8
	}
	l, err := parseLayout(b.String())
	if err != nil {
		return commonFields, 8
	}
	return b.String(), l.fixed
}

// pmuFormat synthesizes the format text of a probe created through the
// kprobe/uprobe PMU, which has no tracefs directory: the payload is the
// trace_entry, then the probed ip, or the function and return address for
// return probes (struct kprobe_trace_entry_head / kretprobe_trace_entry_head,
// uprobe_trace_entry_head with one or two vaddr words).
func pmuFormat(name string, ret bool, common string, commonEnd int) string {
	off := (commonEnd + 7) &^ 7
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nID: 0\nformat:\n%s\n", name, common)
	if ret {
		fmt.Fprintf(&b, "\tfield:unsigned long __probe_func;\toffset:%d;\tsize:8;\tsigned:0;\n", off)
		fmt.Fprintf(&b, "\tfield:unsigned long __probe_ret_ip;\toffset:%d;\tsize:8;\tsigned:0;\n", off+8)
		b.WriteString("\nprint fmt: \"(%lx <- %lx)\", REC->__probe_func, REC->__probe_ret_ip\n")
	} else {
		fmt.Fprintf(&b, "\tfield:unsigned long __probe_ip;\toffset:%d;\tsize:8;\tsigned:0;\n", off)
		b.WriteString("\nprint fmt: \"(%lx)\", REC->__probe_ip\n")
	}
	return b.String()
}

// genericFields are accepted by the kernel filter on every event.
var genericFields = map[string]bool{"CPU": true, "cpu": true, "COMM": true, "comm": true}

// filterFields returns the field names an ftrace filter expression compares:
// identifiers directly followed by a comparison operator, outside quotes.
func filterFields(expr string) []string {
	var out []string
	seen := map[string]bool{}
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(expr) && (expr[j] == '_' || expr[j] >= 'a' && expr[j] <= 'z' || expr[j] >= 'A' && expr[j] <= 'Z' || expr[j] >= '0' && expr[j] <= '9') {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\t') {
				k++
			}
			if k < len(expr) && strings.IndexByte("=!<>~&", expr[k]) >= 0 && !(expr[k] == '&' && k+1 < len(expr) && expr[k+1] == '&') {
				if !seen[word] {
					seen[word] = true
					out = append(out, word)
				}
			}
			i = j
		default:
			i++
		}
	}
	return out
}

// filterApplies reports whether every field the filter uses exists in l.
func filterApplies(fields []string, l *eventLayout) bool {
	for _, f := range fields {
		if strings.HasPrefix(f, "common_") || genericFields[f] {
			continue
		}
		if l == nil || !l.fields[f] {
			return false
		}
	}
	return true
}

// countedTracepoint reports whether the tracepoint GROUP:EVENT passes a
// count to perf (__perf_count in its TP_ARGS): its samples carry that count
// as their period and its counter sums the counts. These are the kernel's
// (include/trace/events/sched.h); others are recognized by their periods.
func countedTracepoint(name string) bool {
	switch name {
	case "sched:sched_stat_runtime", "sched:sched_stat_wait", "sched:sched_stat_sleep",
		"sched:sched_stat_iowait", "sched:sched_stat_blocked":
		return true
	}
	return false
}
