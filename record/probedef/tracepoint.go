package probedef

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// ParseTracepoint checks a tracepoint spec, SUBSYS:EVENT where either part may
// be a shell pattern (* ? [...], as path.Match reads them), and splits it.
// Errors are *SyntaxError pointing at the bad token, so that a typo in a glob
// is reported like a malformed probe, before anything touches tracefs.
func ParseTracepoint(spec string) (group, event string, err error) {
	bad := func(pos, n int, format string, a ...any) error {
		return &SyntaxError{What: "tracepoint", Def: spec, Pos: pos, Len: max(n, 1), Msg: fmt.Sprintf(format, a...)}
	}
	if spec == "" {
		return "", "", bad(0, 1, "empty: want SUBSYS:EVENT, e.g. sched:sched_switch or 'syscalls:sys_enter_open*'")
	}
	for i := 0; i < len(spec); i++ {
		switch c := spec[i]; {
		case c == ' ' || c == '\t':
			if LooksLikeProbe(spec) {
				return "", "", bad(i, 1, "space in a tracepoint: this looks like a kprobe/uprobe definition, not a tracepoint")
			}
			return "", "", bad(i, 1, "space in a tracepoint: give one SUBSYS:EVENT each")
		case c < 0x20 || c == 0x7f:
			return "", "", bad(i, 1, "control character 0x%02x in a tracepoint", c)
		case c == ',':
			return "", "", bad(i, 1, "',' is not part of a tracepoint name: give each tracepoint on its own")
		case c == '/':
			return "", "", bad(i, 1, "'/' in a tracepoint: write SUBSYS:EVENT, e.g. sched:sched_switch")
		}
	}
	colon := strings.IndexByte(spec, ':')
	switch {
	case colon < 0:
		return "", "", bad(0, len(spec), "missing ':' between subsystem and event: want SUBSYS:EVENT, e.g. sched:sched_switch, or '*:%s' for any subsystem", spec)
	case colon == 0:
		return "", "", bad(0, 1, "missing subsystem before ':' (e.g. sched:sched_switch, or '*:EVENT' for any subsystem)")
	case colon == len(spec)-1:
		return "", "", bad(colon, 1, "missing event name after ':' (e.g. %ssched_switch, or '%s*' for all its events)", spec, spec)
	}
	if j := strings.IndexByte(spec[colon+1:], ':'); j >= 0 {
		return "", "", bad(colon+1+j, 1, "second ':': want SUBSYS:EVENT")
	}
	group, event = spec[:colon], spec[colon+1:]
	for _, part := range []struct {
		s   string
		off int
	}{{group, 0}, {event, colon + 1}} {
		if pos, n, msg := globError(part.s); msg != "" {
			return "", "", bad(part.off+pos, n, "%s", msg)
		}
	}
	return group, event, nil
}

// LooksLikeProbe reports whether spec starts like a kprobe_events line
// ("p:NAME SYM", "r10 SYM", "p SYM"): a probe given as a tracepoint by
// mistake.
func LooksLikeProbe(spec string) bool {
	if spec == "" || (spec[0] != 'p' && spec[0] != 'r') {
		return false
	}
	rest := strings.TrimLeft(spec[1:], "0123456789")
	return rest != "" && (rest[0] == ' ' || rest[0] == '\t' || rest[0] == ':')
}

// globError locates the first syntax error of a path.Match pattern: its
// byte offset, length and what is wrong, or msg "" when p is valid.
func globError(p string) (pos, n int, msg string) {
	for i := 0; i < len(p); {
		switch p[i] {
		case '\\':
			if i+1 == len(p) {
				return i, 1, `'\' at the end escapes nothing`
			}
			_, size := utf8.DecodeRuneInString(p[i+1:])
			i += 1 + size
		case '[':
			end := classEnd(p, i)
			if end < 0 {
				return i, len(p) - i, "'[' opens a character class that no ']' closes (write '\\[' for a literal '[')"
			}
			if _, err := path.Match(p[i:end], ""); err != nil {
				inner := strings.TrimPrefix(p[i+1:end-1], "^")
				if inner == "" {
					return i, end - i, "empty character class"
				}
				return i, end - i, "bad character class: want e.g. [abc], [a-z] or [^x] ('-' and ']' need a '\\' unless inside a range)"
			}
			i = end
		default:
			i++
		}
	}
	if _, err := path.Match(p, ""); err != nil {
		return 0, len(p), "bad pattern" // not reached: the scan above mirrors path.Match
	}
	return 0, 0, ""
}

// classEnd returns the index just past the ']' closing the character class
// opened at p[open], or -1. As in path.Match, a ']' right after '[' or '[^'
// closes the (empty, invalid) class rather than being a member.
func classEnd(p string, open int) int {
	j := open + 1
	if j < len(p) && p[j] == '^' {
		j++
	}
	for j < len(p) {
		switch p[j] {
		case ']':
			return j + 1
		case '\\':
			j += 2
		default:
			j++
		}
	}
	return -1
}
