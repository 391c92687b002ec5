package bpfprog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrFilter is wrapped by ParseFilter's errors: the filter uses a form the
// programs do not express (or one the kernel refuses, which the perf path
// then reports in the kernel's words).
var ErrFilter = errors.New("is not compiled into BPF programs")

// FilterField is an event field a filter may compare: where it is in the
// event's record, and how the kernel's filter reads it.
type FilterField struct {
	Off, Size int
	Signed    bool
	// Chars marks a fixed array of char (char comm[16]), compared as a
	// string; Array any other array, which the programs do not compare.
	Chars, Array bool
	// Dyn marks a __data_loc char[] field: its 4 bytes locate the string
	// in the record (see jumpDynString). Only the variable-length
	// programs, which filter the record they built, take it.
	Dyn bool
}

// Filter is a tracefs event filter (the language of PERF_EVENT_IOC_SET_FILTER,
// kernel/trace/trace_events_filter.c) parsed for one event's fields.
type Filter struct {
	root *filterNode
	typ  uint16 // common_type
}

// filterNode is a filter expression: and, or, not, or a predicate.
type filterNode struct {
	op   byte // '&' (and), '|' (or), '!' (not), 'p' (predicate)
	l, r *filterNode
	pred *filterPred
}

// Where a predicate's left side comes from.
const (
	fromField = iota // the event's record
	fromPID          // common_pid: the current task's id
	fromCPU          // CPU/cpu: the CPU the event is on
	fromType         // common_type: the event's id, a constant
	fromComm         // COMM/comm: the current task's name (char[16])
)

// filterPred is one comparison, with the kernel's meaning: a number is
// truncated to the field's type and compared as that type; a string is
// compared with a char array as strncmp or strnstr over the array.
type filterPred struct {
	from  int
	field FilterField
	op    string // "==", "!=", "<", "<=", ">", ">=", "&", "~"
	val   uint64 // the number, truncated and extended as the field
	str   string
	match int  // matchFull, matchFront, matchMiddle or matchEnd
	not   bool // a string predicate's result is inverted (!=, ~ "!...")
}

// String match kinds (the kernel's MATCH_FULL, MATCH_FRONT_ONLY,
// MATCH_MIDDLE_ONLY, MATCH_END_ONLY).
const (
	matchFull = iota
	matchFront
	matchMiddle
	matchEnd
)

// taskCommLen is the kernel's TASK_COMM_LEN: a task's name, NUL-padded.
const taskCommLen = 16

// maxFilterStr is the kernel's MAX_FILTER_STR_VAL: longer strings are
// refused.
const maxFilterStr = 256

// filterOps are the kernel's operators in the order it tries them ("<="
// before "<").
var filterOps = []string{"~", "!=", "==", "<=", "<", ">=", ">", "&"}

// ParseFilter parses expr for an event with the given fields (by name,
// common_* ones included) and id commonType (negative: unknown, as a
// PMU probe's). Numeric comparisons of the
// event's integer fields, common_pid, common_type and CPU, string ==, !=
// and ~ (whole, "pre*", "*mid*" and "*end" patterns) on char arrays (and
// but "*mid*" on __data_loc strings, see FilterField.Dyn), &&, || and !
// and the current task's COMM are expressed; anything else returns an
// error wrapping ErrFilter.
func ParseFilter(expr string, fields map[string]FilterField, commonType int) (*Filter, error) {
	p := &filterParser{s: expr, fields: fields, typ: commonType}
	n, err := p.or()
	if err == nil && p.skip() < len(p.s) {
		err = p.fail("unexpected %q", p.s[p.i:])
	}
	if err != nil {
		return nil, fmt.Errorf("filter %q %w (%w)", expr, ErrFilter, err)
	}
	return &Filter{root: n, typ: uint16(commonType)}, nil
}

type filterParser struct {
	s      string
	i      int
	fields map[string]FilterField
	typ    int
}

func (p *filterParser) fail(format string, args ...any) error {
	return fmt.Errorf("at %d: "+format, append([]any{p.i}, args...)...)
}

// skip moves past white space and returns the position.
func (p *filterParser) skip() int {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
	return p.i
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// or parses a || b || ...; && binds tighter, as in the kernel.
func (p *filterParser) or() (*filterNode, error) {
	return p.binary("||", '|', p.and)
}

func (p *filterParser) and() (*filterNode, error) {
	return p.binary("&&", '&', p.unary)
}

func (p *filterParser) binary(tok string, op byte, next func() (*filterNode, error)) (*filterNode, error) {
	n, err := next()
	if err != nil {
		return nil, err
	}
	for p.skip(); strings.HasPrefix(p.s[p.i:], tok); p.skip() {
		p.i += 2
		r, err := next()
		if err != nil {
			return nil, err
		}
		n = &filterNode{op: op, l: n, r: r}
	}
	return n, nil
}

// unary parses !x, (expr) or a predicate.
func (p *filterParser) unary() (*filterNode, error) {
	p.skip()
	switch {
	case p.i >= len(p.s):
		return nil, p.fail("missing predicate")
	case p.s[p.i] == '!' && !strings.HasPrefix(p.s[p.i:], "!=") && !strings.HasPrefix(p.s[p.i:], "!~"):
		p.i++
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &filterNode{op: '!', l: n}, nil
	case p.s[p.i] == '(':
		p.i++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.skip(); p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, p.fail("missing )")
		}
		p.i++
		return n, nil
	}
	pr, err := p.pred()
	if err != nil {
		return nil, err
	}
	return &filterNode{op: 'p', pred: pr}, nil
}

// pred parses FIELD OP VALUE as the kernel's parse_pred reads it.
func (p *filterParser) pred() (*filterPred, error) {
	start := p.i
	for p.i < len(p.s) && (isAlnum(p.s[p.i]) || p.s[p.i] == '_') {
		p.i++
	}
	name := p.s[start:p.i]
	if name == "" || p.i < len(p.s) && p.s[p.i] == '.' {
		return nil, p.fail("no field name, or a .suffix")
	}
	pr, err := p.lhs(name)
	if err != nil {
		return nil, err
	}
	p.skip()
	for _, op := range filterOps {
		if strings.HasPrefix(p.s[p.i:], op) {
			pr.op = op
			break
		}
	}
	if pr.op == "" {
		return nil, p.fail("no operator")
	}
	p.i += len(pr.op)
	p.skip()
	switch {
	case p.i < len(p.s) && (p.s[p.i] == '"' || p.s[p.i] == '\''):
		err = p.str(pr)
	case p.i < len(p.s) && (p.s[p.i] >= '0' && p.s[p.i] <= '9' || p.s[p.i] == '-'):
		err = p.num(pr)
	default:
		err = p.fail("value neither a number nor a quoted string")
	}
	if err != nil {
		return nil, err
	}
	// Only ), &&, || or the end may follow.
	if p.skip(); p.i < len(p.s) && p.s[p.i] != ')' && !strings.HasPrefix(p.s[p.i:], "&&") && !strings.HasPrefix(p.s[p.i:], "||") {
		return nil, p.fail("unexpected %q after a predicate", p.s[p.i:])
	}
	return pr, nil
}

// lhs finds a predicate's field as the kernel does: the event's own
// fields, then the generic ones (CPU, COMM), then the common ones.
func (p *filterParser) lhs(name string) (*filterPred, error) {
	if f, ok := p.fields[name]; ok && !strings.HasPrefix(name, "common_") {
		if f.Array && !f.Chars || f.Size != 1 && f.Size != 2 && f.Size != 4 && f.Size != 8 && !f.Chars {
			return nil, p.fail("field %s is an array or of %d bytes", name, f.Size)
		}
		return &filterPred{from: fromField, field: f}, nil
	}
	switch name {
	case "COMM", "comm":
		return &filterPred{from: fromComm, field: FilterField{Size: taskCommLen, Chars: true, Array: true}}, nil
	case "CPU", "cpu":
		return &filterPred{from: fromCPU, field: FilterField{Size: 4, Signed: true}}, nil
	case "common_pid":
		return &filterPred{from: fromPID, field: FilterField{Size: 4, Signed: true}}, nil
	case "common_type":
		if p.typ < 0 || p.typ > 0xffff {
			return nil, p.fail("the event's common_type is not known before it opens")
		}
		return &filterPred{from: fromType, field: FilterField{Size: 2}}, nil
	}
	return nil, p.fail("field %s is not one the programs see", name)
}

// num reads a number as the kernel does: an optional -, the letters and
// digits after it (fewer than 24 characters in all), read by kstrtoll for
// a signed field and kstrtoull (which refuses a -) for an unsigned one,
// base 0 (0x hex, 0 octal); then it truncates it to the field's type.
func (p *filterParser) num(pr *filterPred) error {
	start := p.i
	neg := p.s[p.i] == '-'
	if neg {
		p.i++
	}
	for p.i < len(p.s) && isAlnum(p.s[p.i]) {
		p.i++
	}
	if p.i-start >= 24 {
		return p.fail("operand too long")
	}
	lit := p.s[start:p.i]
	if neg {
		if !pr.field.Signed {
			return p.fail("negative number for an unsigned field")
		}
		lit = lit[1:]
		if lit == "" {
			return p.fail("no digits after -")
		}
	}
	if pr.field.Chars || pr.op == "~" {
		return p.fail("number compared with a string field, or ~ with a number")
	}
	if pr.from == fromCPU && pr.op == "&" {
		return p.fail("CPU & is a CPU mask")
	}
	digits, base := lit, 10
	switch {
	case len(lit) > 2 && (lit[1] == 'x' || lit[1] == 'X') && lit[0] == '0' && isHex(lit[2]):
		digits, base = lit[2:], 16
	case lit[0] == '0':
		base = 8
	}
	v, err := strconv.ParseUint(digits, base, 64)
	if err != nil || pr.field.Signed && v > 1<<63-1 && !(neg && v == 1<<63) {
		return p.fail("bad integer %q", lit)
	}
	if neg {
		v = -v
	}
	pr.val = extend(v, pr.field.Size, pr.field.Signed)
	return nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// extend truncates v to size bytes and extends it back to 64 bits, with
// its sign when signed: both sides of a comparison are held so.
func extend(v uint64, size int, signed bool) uint64 {
	if size >= 8 {
		return v
	}
	bits := uint(size * 8)
	v &= 1<<bits - 1
	if signed && v>>(bits-1) != 0 {
		v |= ^uint64(0) << bits
	}
	return v
}

// str reads a quoted string (no escapes, as in the kernel) for a char
// array field, with the kernel's glob forms for ~.
func (p *filterParser) str(pr *filterPred) error {
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return p.fail("missing quote")
	}
	s := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	if !pr.field.Chars || pr.from != fromField && pr.from != fromComm {
		return p.fail("string compared with a field that is not a char array")
	}
	if len(s) >= maxFilterStr || strings.IndexByte(s, 0) >= 0 {
		return p.fail("string too long")
	}
	switch pr.op {
	case "!=":
		pr.not = true
	case "==":
	case "~":
		return pr.glob(s, p)
	default:
		return p.fail("%s on a string", pr.op)
	}
	pr.str, pr.match = s, matchFull
	return nil
}

// glob reads a ~ pattern as the kernel's filter_parse_regex: a leading !
// inverts; "pre*" matches the front, "*mid*" anywhere, "*end" the end, no
// * the whole string. Full globs are left to the perf path.
func (pr *filterPred) glob(s string, p *filterParser) error {
	if strings.HasPrefix(s, "!") {
		pr.not, s = true, s[1:]
	}
	if strings.ContainsAny(s, "[?\\") {
		return p.fail("glob %q", s)
	}
	star := strings.IndexByte(s, '*')
	switch {
	case star < 0:
		pr.match = matchFull
	case star == len(s)-1 && star > 0:
		pr.match, s = matchFront, s[:star]
	case star == 0 && len(s) > 1 && strings.IndexByte(s[1:], '*') == len(s)-2 && len(s) > 2:
		pr.match, s = matchMiddle, s[1:len(s)-1]
	case star == 0 && len(s) > 1 && strings.IndexByte(s[1:], '*') < 0:
		pr.match, s = matchEnd, s[1:]
	default:
		return p.fail("glob %q", s)
	}
	if pr.match == matchMiddle && pr.field.Dyn {
		return p.fail("*%s* in a variable-length string", s)
	}
	if pr.match == matchMiddle && (pr.field.Size-len(s)+1)*len(s) > maxStringCompares {
		return p.fail("*%s* in %d bytes takes too many compares", s, pr.field.Size)
	}
	pr.str = s
	return nil
}

// maxStringCompares bounds the byte compares a "*mid*" pattern unrolls
// into: two instructions each.
const maxStringCompares = 2048
