package filter

import "fmt"

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

// compile turns the subtree n into a predicate: && and || short-circuit as
// in Go, and a comparison goes by its field's type.
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
	if f.Type == String {
		return e.compileString(n, f.ID)
	}
	return e.compileNumber(n, f)
}

// compileString compiles a comparison of the string field id: ==, != or
// the glob ~.
func (e *Expr) compileString(n *node, id int) (Predicate, error) {
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
		return func(row Row) bool { s, ok := row.Str(id); return ok && glob(lit, s) }, nil
	}
	return nil, &Error{e.src, n.cpos, fmt.Sprintf("field %q is a string: use ==, != or ~", n.field)}
}

// compileNumber compiles a comparison of the numeric field f with a number
// literal, read as signed or unsigned as the field is.
func (e *Expr) compileNumber(n *node, f Field) (Predicate, error) {
	if n.lit.kind != tNum {
		return nil, &Error{e.src, n.lit.pos, fmt.Sprintf("field %q is a number, %q is not", n.field, n.lit.text)}
	}
	if n.cmp == "~" {
		return nil, &Error{e.src, n.cpos, fmt.Sprintf("field %q is a number: ~ needs a string field", n.field)}
	}
	u, i, _ := parseNum(n.lit.text)
	id, cmp := f.ID, n.cmp
	if f.Type == Signed {
		return func(row Row) bool { v, ok := row.Int(id); return ok && compare(cmp, v, i) }, nil
	}
	return func(row Row) bool { v, ok := row.Uint(id); return ok && compare(cmp, v, u) }, nil
}

// compare applies the comparison cmp to a value and a literal; any other
// cmp is the bit test &.
func compare[T int64 | uint64](cmp string, v, lit T) bool {
	switch cmp {
	case "==":
		return v == lit
	case "!=":
		return v != lit
	case "<":
		return v < lit
	case "<=":
		return v <= lit
	case ">":
		return v > lit
	case ">=":
		return v >= lit
	}
	return v&lit != 0
}
