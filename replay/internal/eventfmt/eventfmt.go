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
