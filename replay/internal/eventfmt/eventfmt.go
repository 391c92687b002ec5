// Package eventfmt parses tracefs event "format" files (the text under
// /sys/kernel/tracing/events/GROUP/EVENT/format) into field layouts that a
// decoder can apply to raw perf sample payloads.
//
// The text comes from trace files, so it is untrusted: Parse bounds every
// number and never panics.
package eventfmt

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind says how a field's bytes are laid out in the payload.
type Kind uint8

// Field kinds.
const (
	KindInt     Kind = iota + 1 // little-endian integer of Size 1, 2, 4 or 8 bytes
	KindString                  // fixed char array, NUL-terminated or full
	KindDataLoc                 // __data_loc: u32, low 16 bits offset from record start, high 16 length
	KindRelLoc                  // __rel_loc: like KindDataLoc, offset from the end of the field
	KindBytes                   // any other fixed-size array or odd-sized field
)

// MaxRecord bounds field offsets and sizes: perf records are at most 64 KiB.
const MaxRecord = 1 << 16

// MaxFields bounds the fields of one format. The kernel's largest
// tracepoints have a few dozen; a probe has at most 128 arguments
// (MAX_TRACE_ARGS) besides its common and probe fields.
const MaxFields = 1024

// Field is one "field:" line of a format file.
type Field struct {
	Name   string // "filename"
	Type   string // C type as written without the name, e.g. "__data_loc char[]", "char[16]", "unsigned long"
	Offset int
	Size   int
	Signed bool
	Kind   Kind
	// Elem is the element type of arrays and dynamic arrays ("char", "u64").
	Elem string
	// Text is set for KindDataLoc/KindRelLoc fields whose elements are chars:
	// they decode to strings; other dynamic arrays decode to bytes.
	Text bool
	// Common marks the common_* header fields shared by every event.
	Common bool
	// Hex asks text output to print the value in hex (pointers, %x in the print fmt).
	Hex bool
	// Symbol asks text output to print the value as a kernel symbol (%pS).
	Symbol bool
}

// Event is a parsed format file.
type Event struct {
	Name     string
	ID       int
	Fields   []Field // in file order, common fields included
	PrintFmt string  // the text after "print fmt: "
}

// Field returns the field called name, or nil.
func (e *Event) Field(name string) *Field {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			return &e.Fields[i]
		}
	}
	return nil
}

// Parse parses a format file's text.
func Parse(text string) (*Event, error) {
	ev := &Event{}
	lines := strings.Split(text, "\n")
	names := map[string]bool{}
	for i, line := range lines {
		l := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(l, "name:"):
			ev.Name = strings.TrimSpace(l[len("name:"):])
		case strings.HasPrefix(l, "ID:"):
			id, err := strconv.Atoi(strings.TrimSpace(l[len("ID:"):]))
			if err != nil {
				return nil, fmt.Errorf("format line %d: bad ID %q", i+1, l)
			}
			ev.ID = id
		case strings.HasPrefix(l, "field:"):
			f, err := parseField(l)
			if err != nil {
				return nil, fmt.Errorf("format line %d: %w", i+1, err)
			}
			if names[f.Name] {
				return nil, fmt.Errorf("format line %d: duplicate field %q", i+1, f.Name)
			}
			if len(ev.Fields) == MaxFields {
				return nil, fmt.Errorf("format line %d: more than %d fields", i+1, MaxFields)
			}
			names[f.Name] = true
			ev.Fields = append(ev.Fields, f)
		case strings.HasPrefix(l, "print fmt:"):
			// The print fmt can be long but is always the last line.
			ev.PrintFmt = strings.TrimSpace(strings.Join(lines[i:], "\n")[strings.Index(line, "print fmt:")+len("print fmt:"):])
			applyPrintFmt(ev)
			return ev, nil
		}
	}
	if len(ev.Fields) == 0 {
		return nil, fmt.Errorf("format: no fields")
	}
	return ev, nil
}

// parseField parses "field:TYPE NAME; offset:N; size:N; signed:N;".
func parseField(l string) (Field, error) {
	var f Field
	parts := strings.Split(l[len("field:"):], ";")
	decl := strings.TrimSpace(parts[0])
	haveOff, haveSize := false, false
	for _, p := range parts[1:] {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, ":")
		if !ok {
			return f, fmt.Errorf("field %q: bad attribute %q", decl, p)
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > MaxRecord {
			return f, fmt.Errorf("field %q: bad %s %q", decl, k, v)
		}
		switch strings.TrimSpace(k) {
		case "offset":
			f.Offset, haveOff = n, true
		case "size":
			f.Size, haveSize = n, true
		case "signed":
			f.Signed = n != 0
		}
	}
	if !haveOff || !haveSize {
		return f, fmt.Errorf("field %q: missing offset or size", decl)
	}
	// Split off an array suffix "[16]" / "[]" / "[TASK_COMM_LEN]".
	arr, hasArr := "", false
	if strings.HasSuffix(decl, "]") {
		if j := strings.LastIndexByte(decl, '['); j >= 0 {
			arr, hasArr = decl[j:], true
			decl = strings.TrimSpace(decl[:j])
		}
	}
	j := len(decl)
	for j > 0 && isIdent(decl[j-1]) {
		j--
	}
	if j == len(decl) {
		return f, fmt.Errorf("field %q: no name", decl)
	}
	f.Name = decl[j:]
	typ := strings.TrimSpace(decl[:j])
	if typ == "" {
		return f, fmt.Errorf("field %q: no type", decl)
	}
	f.Type = typ + arr
	f.Common = strings.HasPrefix(f.Name, "common_")
	switch {
	case strings.HasPrefix(typ, "__data_loc") || strings.HasPrefix(typ, "__rel_loc"):
		f.Kind = KindDataLoc
		rest := strings.TrimPrefix(typ, "__data_loc")
		if strings.HasPrefix(typ, "__rel_loc") {
			f.Kind = KindRelLoc
			rest = strings.TrimPrefix(typ, "__rel_loc")
		}
		f.Elem = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "[]"))
		f.Text = isChar(f.Elem)
		if f.Size != 4 {
			return f, fmt.Errorf("field %s: %s of size %d, want 4", f.Name, typ, f.Size)
		}
	case hasArr:
		f.Elem = typ
		if isChar(typ) {
			f.Kind = KindString
		} else {
			f.Kind = KindBytes
		}
	case f.Size == 1 || f.Size == 2 || f.Size == 4 || f.Size == 8:
		f.Kind = KindInt
		f.Hex = strings.Contains(typ, "*")
	default:
		f.Kind = KindBytes
	}
	if f.Offset+f.Size > MaxRecord {
		return f, fmt.Errorf("field %s: offset %d + size %d beyond %d", f.Name, f.Offset, f.Size, MaxRecord)
	}
	return f, nil
}

func isChar(t string) bool {
	t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "const "))
	return t == "char" || t == "signed char"
}

func isIdent(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// applyPrintFmt reads how the kernel prints each field (hex, symbol) from the
// print fmt: kprobe x8..x64 and symbol fetchargs are only told apart there.
func applyPrintFmt(ev *Event) {
	verbs, args, ok := splitPrintFmt(ev.PrintFmt)
	if !ok || len(verbs) != len(args) {
		return
	}
	for i, a := range args {
		name := recField(a)
		if name == "" {
			continue
		}
		f := ev.Field(name)
		if f == nil || f.Kind != KindInt {
			continue
		}
		v := verbs[i]
		switch {
		case v == "x" || v == "X":
			f.Hex = true
		case v == "pS" || v == "ps" || v == "pB" || v == "pSR":
			f.Symbol, f.Hex = true, false
		case strings.HasPrefix(v, "p"):
			f.Hex = true
		case v == "d" || v == "i" || v == "u":
			f.Hex = false
		}
	}
}

// recField returns NAME when arg is REC->NAME, possibly within casts and
// parentheses, and nothing else; "" otherwise.
func recField(arg string) string {
	i := strings.Index(arg, "REC->")
	if i < 0 || strings.Count(arg, "REC->") != 1 {
		return ""
	}
	// Reject expressions other than casts: anything but identifiers, spaces,
	// parentheses and '*' around the field.
	rest := arg[i+5:]
	j := 0
	for j < len(rest) && isIdent(rest[j]) {
		j++
	}
	name := rest[:j]
	for _, c := range []byte(arg[:i] + rest[j:]) {
		if !(c == '(' || c == ')' || c == ' ' || c == '*' || isIdent(c)) {
			return ""
		}
	}
	return name
}

// splitPrintFmt splits `"fmt", arg, arg` into the conversion verbs of fmt
// ("d", "lx" → "x", "pS") and the top-level arguments.
func splitPrintFmt(p string) (verbs, args []string, ok bool) {
	if len(p) == 0 || p[0] != '"' {
		return nil, nil, false
	}
	// Find the closing quote of the C string.
	var fmtStr strings.Builder
	i := 1
	for ; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) {
			i++
			fmtStr.WriteByte(p[i])
			continue
		}
		if c == '"' {
			break
		}
		fmtStr.WriteByte(c)
	}
	if i >= len(p) {
		return nil, nil, false
	}
	s := fmtStr.String()
	for k := 0; k < len(s); k++ {
		if s[k] != '%' {
			continue
		}
		k++
		if k < len(s) && s[k] == '%' {
			continue
		}
		for k < len(s) && strings.IndexByte("-+ #0123456789.*hlLqjzt", s[k]) >= 0 {
			if s[k] == '*' {
				verbs = append(verbs, "*")
			}
			k++
		}
		if k >= len(s) {
			break
		}
		v := string(s[k])
		if s[k] == 'p' {
			e := k + 1
			for e < len(s) && (s[e] >= 'a' && s[e] <= 'z' || s[e] >= 'A' && s[e] <= 'Z') && e-k < 4 {
				e++
			}
			v = s[k:e]
			k = e - 1
		}
		verbs = append(verbs, v)
	}
	// Split the arguments at top-level commas.
	rest := p[i+1:]
	depth, start := 0, -1
	inStr := byte(0)
	for k := 0; k < len(rest); k++ {
		c := rest[k]
		switch {
		case inStr != 0:
			if c == '\\' {
				k++
			} else if c == inStr {
				inStr = 0
			}
		case c == '"' || c == '\'':
			inStr = c
		case c == '(' || c == '{' || c == '[':
			depth++
		case c == ')' || c == '}' || c == ']':
			depth--
		case c == ',' && depth == 0:
			if start >= 0 {
				args = append(args, strings.TrimSpace(rest[start:k]))
			}
			start = k + 1
		}
	}
	if start >= 0 {
		args = append(args, strings.TrimSpace(rest[start:]))
	}
	return verbs, args, true
}
