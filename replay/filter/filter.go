// Package filter implements the ftrace event filter language, evaluated
// offline on decoded events:
//
//	common_pid == 42 && (filename ~ "/etc/*" || flags & 0x40) && !(comm == "bash")
//
// Comparisons are ==, !=, <, <=, >, >= and & (bit test) on numbers, and ==, !=
// and ~ (glob with *, ? and [...]) on strings. Numbers are decimal or hex
// (0x...), optionally negative; strings are double- or single-quoted (a bare
// word is accepted on the right of a string comparison, as ftrace does).
// Expressions combine with &&, || and !, and group with parentheses.
//
// An expression is parsed once (Parse) and compiled once per event schema
// (Compile) into a Predicate.
package filter

import (
	"fmt"
	"strings"
)

// Type is the type of a field as the filter sees it.
type Type uint8

// Field types.
const (
	Signed Type = iota + 1
	Unsigned
	String
)

// Field is what a resolver says about a field name: its type, and the ID the
// Row accessors are called with.
type Field struct {
	Type Type
	ID   int
}

// Row gives a predicate access to one event's values; ok is false when the
// value is missing (truncated payload), which makes the comparison false.
type Row interface {
	Int(id int) (int64, bool)
	Uint(id int) (uint64, bool)
	Str(id int) ([]byte, bool)
}

// Predicate reports whether a row matches.
type Predicate func(Row) bool

// Error is a syntax or type error, with the byte position of the bad token.
type Error struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *Error) Error() string {
	pos := e.Pos
	if pos > len(e.Expr) {
		pos = len(e.Expr)
	}
	return fmt.Sprintf("filter: %s at column %d\n  %s\n  %s^", e.Msg, pos+1, e.Expr, strings.Repeat(" ", pos))
}

// Expr is a parsed filter expression.
type Expr struct {
	src  string
	root *node
}

// String returns the expression's source text.
func (e *Expr) String() string { return e.src }

// Fields returns the field names the expression refers to.
func (e *Expr) Fields() []string {
	var out []string
	seen := map[string]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		if n == nil {
			return
		}
		if n.op == opCmp && !seen[n.field] {
			seen[n.field] = true
			out = append(out, n.field)
		}
		walk(n.l)
		walk(n.r)
	}
	walk(e.root)
	return out
}
