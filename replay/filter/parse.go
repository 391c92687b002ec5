package filter

import (
	"fmt"
	"strconv"
	"strings"
)

// nodeOp is what a syntax tree node does.
type nodeOp uint8

const (
	opCmp nodeOp = iota + 1
	opAnd
	opOr
	opNot
)

// node is a comparison (opCmp) or a boolean operator on l (and r).
type node struct {
	op    nodeOp
	l, r  *node
	field string
	fpos  int    // position of the field token
	cmp   string // "==", "~", ...
	cpos  int
	lit   token
}

// parser is a recursive-descent parser over the tokens of one expression:
// or binds looser than and, and both looser than ! and ( ).
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

// maxDepth bounds the nesting of ! and ( ) so that a hostile expression
// cannot exhaust the stack.
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
