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
	"strconv"
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

type nodeOp uint8

const (
	opCmp nodeOp = iota + 1
	opAnd
	opOr
	opNot
)

type node struct {
	op    nodeOp
	l, r  *node
	field string
	fpos  int    // position of the field token
	cmp   string // "==", "~", ...
	cpos  int
	lit   token
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNum
	tStr
	tOp
	tLParen
	tRParen
)

type token struct {
	kind tokKind
	text string // identifier, operator, number text or unquoted string
	pos  int
}

func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, &Error{s, i, "unterminated string"}
			}
			toks = append(toks, token{tStr, b.String(), i})
			i = j + 1
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && (isWord(s[j])) {
				j++
			}
			toks = append(toks, token{tNum, s[i:j], i})
			i = j
		case isWord(c):
			j := i
			for j < len(s) && isWord(s[j]) {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j], i})
			i = j
		default:
			op := ""
			for _, o := range []string{"&&", "||", "==", "!=", "<=", ">=", "<", ">", "&", "~", "!"} {
				if strings.HasPrefix(s[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, &Error{s, i, fmt.Sprintf("unexpected character %q", c)}
			}
			toks = append(toks, token{tOp, op, i})
			i += len(op)
		}
	}
	toks = append(toks, token{tEOF, "", len(s)})
	return toks, nil
}

// isWord accepts the characters of field names and bare words (paths and
// globs included, so `filename ~ /etc/*` works unquoted).
func isWord(c byte) bool {
	return c == '_' || c == '.' || c == ':' || c == '/' || c == '*' || c == '?' || c == '[' || c == ']' || c == '-' ||
		c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) errAt(t token, format string, a ...any) error {
	return &Error{p.src, t.pos, fmt.Sprintf(format, a...)}
}

func describe(t token) string {
	if t.kind == tEOF {
		return "end of expression"
	}
	return fmt.Sprintf("%q", t.text)
}

// Parse parses an expression.
func Parse(s string) (*Expr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &Error{s, 0, "empty expression"}
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{src: s, toks: toks}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, "unexpected %s, want && or ||", describe(t))
	}
	return &Expr{src: s, root: root}, nil
}

const maxDepth = 200

func (p *parser) or(depth int) (*node, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOp && p.peek().text == "||" {
		p.next()
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = &node{op: opOr, l: l, r: r}
	}
	return l, nil
}

func (p *parser) and(depth int) (*node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOp && p.peek().text == "&&" {
		p.next()
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = &node{op: opAnd, l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errAt(p.peek(), "expression nested too deeply")
	}
	t := p.peek()
	switch {
	case t.kind == tOp && t.text == "!":
		p.next()
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &node{op: opNot, l: n}, nil
	case t.kind == tLParen:
		p.next()
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tRParen {
			return nil, p.errAt(c, "unexpected %s, want ')'", describe(c))
		}
		p.next()
		return n, nil
	case t.kind == tIdent:
		p.next()
		op := p.next()
		if op.kind != tOp || !isCmp(op.text) {
			return nil, p.errAt(op, "unexpected %s after field %q, want a comparison (==, !=, <, <=, >, >=, &, ~)", describe(op), t.text)
		}
		v := p.next()
		if v.kind != tNum && v.kind != tStr && v.kind != tIdent {
			return nil, p.errAt(v, "unexpected %s, want a number or a string", describe(v))
		}
		if v.kind == tNum {
			if _, _, ok := parseNum(v.text); !ok {
				return nil, p.errAt(v, "bad number %q", v.text)
			}
		}
		return &node{op: opCmp, field: t.text, fpos: t.pos, cmp: op.text, cpos: op.pos, lit: v}, nil
	}
	return nil, p.errAt(t, "unexpected %s, want a field name, '!' or '('", describe(t))
}

func isCmp(s string) bool {
	switch s {
	case "==", "!=", "<", "<=", ">", ">=", "&", "~":
		return true
	}
	return false
}

// parseNum parses a decimal or hex literal, possibly negative, as both views.
func parseNum(s string) (u uint64, i int64, ok bool) {
	neg := strings.HasPrefix(s, "-")
	t := strings.TrimPrefix(s, "-")
	v, err := strconv.ParseUint(t, 0, 64)
	if err != nil {
		return 0, 0, false
	}
	if neg {
		if v > 1<<63 {
			return 0, 0, false
		}
		return -v, -int64(v), true
	}
	return v, int64(v), true
}

// Compile binds the expression to one event schema. resolve maps a field name
// to its type and accessor id. If any referenced field is missing from the
// schema, the predicate is false for every row (ok is false then); type
// mismatches (a number compared with a string) are errors.
func (e *Expr) Compile(resolve func(name string) (Field, bool)) (pred Predicate, ok bool, err error) {
	for _, name := range e.Fields() {
		if _, found := resolve(name); !found {
			return func(Row) bool { return false }, false, nil
		}
	}
	p, err := e.compile(e.root, resolve)
	if err != nil {
		return nil, false, err
	}
	return p, true, nil
}

func (e *Expr) compile(n *node, resolve func(string) (Field, bool)) (Predicate, error) {
	switch n.op {
	case opAnd, opOr:
		l, err := e.compile(n.l, resolve)
		if err != nil {
			return nil, err
		}
		r, err := e.compile(n.r, resolve)
		if err != nil {
			return nil, err
		}
		if n.op == opAnd {
			return func(row Row) bool { return l(row) && r(row) }, nil
		}
		return func(row Row) bool { return l(row) || r(row) }, nil
	case opNot:
		l, err := e.compile(n.l, resolve)
		if err != nil {
			return nil, err
		}
		return func(row Row) bool { return !l(row) }, nil
	}
	f, _ := resolve(n.field)
	id := f.ID
	if f.Type == String {
		if n.lit.kind == tNum && n.cmp != "==" && n.cmp != "!=" && n.cmp != "~" {
			return nil, &Error{e.src, n.cpos, fmt.Sprintf("field %q is a string: use ==, != or ~", n.field)}
		}
		lit := n.lit.text
		switch n.cmp {
		case "==":
			return func(row Row) bool { s, ok := row.Str(id); return ok && string(s) == lit }, nil
		case "!=":
			return func(row Row) bool { s, ok := row.Str(id); return ok && string(s) != lit }, nil
		case "~":
			return func(row Row) bool { s, ok := row.Str(id); return ok && Glob(lit, s) }, nil
		}
		return nil, &Error{e.src, n.cpos, fmt.Sprintf("field %q is a string: use ==, != or ~", n.field)}
	}
	if n.lit.kind != tNum {
		return nil, &Error{e.src, n.lit.pos, fmt.Sprintf("field %q is a number, %q is not", n.field, n.lit.text)}
	}
	if n.cmp == "~" {
		return nil, &Error{e.src, n.cpos, fmt.Sprintf("field %q is a number: ~ needs a string field", n.field)}
	}
	u, i, _ := parseNum(n.lit.text)
	cmp := n.cmp
	if f.Type == Signed {
		return func(row Row) bool {
			v, ok := row.Int(id)
			if !ok {
				return false
			}
			switch cmp {
			case "==":
				return v == i
			case "!=":
				return v != i
			case "<":
				return v < i
			case "<=":
				return v <= i
			case ">":
				return v > i
			case ">=":
				return v >= i
			}
			return v&i != 0
		}, nil
	}
	return func(row Row) bool {
		v, ok := row.Uint(id)
		if !ok {
			return false
		}
		switch cmp {
		case "==":
			return v == u
		case "!=":
			return v != u
		case "<":
			return v < u
		case "<=":
			return v <= u
		case ">":
			return v > u
		case ">=":
			return v >= u
		}
		return v&u != 0
	}, nil
}

// Glob matches s against pattern with *, ? and [...] classes ([!...] negates,
// ranges a-z), like the kernel's glob_match.
func Glob(pattern string, s []byte) bool {
	p := 0
	i := 0
	backP, backI := -1, -1
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				backP, backI = p+1, i
				p++
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if end, match, ok := class(pattern[p:], s[i]); ok {
					if match {
						p += end
						i++
						continue
					}
				} else if s[i] == '[' {
					p++
					i++
					continue
				}
			default:
				if c == s[i] {
					p++
					i++
					continue
				}
			}
		}
		if backP < 0 {
			return false
		}
		backI++
		p, i = backP, backI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// class matches c against the class at the start of pat ("[...]"), returning
// the class's length; ok is false when pat has no closing bracket.
func class(pat string, c byte) (n int, match, ok bool) {
	i := 1
	neg := false
	if i < len(pat) && (pat[i] == '!' || pat[i] == '^') {
		neg = true
		i++
	}
	first := true
	for i < len(pat) {
		if pat[i] == ']' && !first {
			return i + 1, match != neg, true
		}
		first = false
		lo := pat[i]
		hi := lo
		if i+2 < len(pat) && pat[i+1] == '-' && pat[i+2] != ']' {
			hi = pat[i+2]
			i += 2
		}
		if lo <= c && c <= hi {
			match = true
		}
		i++
	}
	return 0, false, false
}
