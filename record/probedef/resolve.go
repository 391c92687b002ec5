package probedef

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// NeedsBTF reports whether the definition names arguments or members, uses
// $arg* or %pd/%pD, and so needs the kernel's BTF (see ResolveBTF).
func (p *Probe) NeedsBTF() bool {
	for _, a := range p.Args {
		if a.btf != nil && (a.btf.expr != "" || a.btf.all || a.btf.dentry != "") {
			return true
		}
	}
	return false
}

// WantsBTF reports whether BTF would add to the definition: it needs it
// (NeedsBTF), or a $retval or $argN without a type would get its C type.
func (p *Probe) WantsBTF() bool {
	if p.NeedsBTF() {
		return true
	}
	if p.IsUprobe() || p.Kind == KindEprobe {
		return false
	}
	for _, a := range p.Args {
		if a.Type == "" && (a.Fetch == "$retval" || strings.HasPrefix(a.Fetch, "$arg")) {
			return true
		}
		if p.KernelBTFArgs && argNum(a.Fetch) > 0 { // checked against the prototype
			return true
		}
	}
	return false
}

// btfArg is what the parser keeps of an argument that BTF resolves.
type btfArg struct {
	expr   string // "file->f_path.dentry" or "$retval->x" or "count"; "" for a plain fetch with %pd/%pD
	pos    int    // byte offset of expr in the definition
	all    bool   // $arg*
	dentry string // "%pd" or "%pD": a dentry or file pointer printed as a name
	user   string // the type the user gave, "" for automatic
}

// ResolveBTF turns every argument name, member path, $arg* and %pd/%pD into
// the plain fetch arguments every kernel since 4.20 understands ($argN,
// +OFFS(...), :TYPE, b<w>@<o>/<s>), and records each field's C type.
// Untyped $retval and $argN get the prototype's type. Errors are *SyntaxError
// pointing where the kernel's error_log would.
func (p *Probe) ResolveBTF(b *BTF) error {
	if b == nil {
		return errors.New("no BTF")
	}
	fn, ferr := p.prototype(b)
	ps := &parser{def: p.Def, p: p}
	var out []FetchArg
	for _, a := range p.Args {
		switch {
		case a.btf != nil && a.btf.all:
			all, err := ps.allArgs(b, fn, ferr, a.btf.pos)
			if err != nil {
				return err
			}
			out = append(out, all...)
			continue
		case a.btf != nil:
			fa, err := ps.resolveBTFArg(b, fn, ferr, a)
			if err != nil {
				return err
			}
			out = append(out, fa)
			continue
		case fn != nil && a.Fetch == "$retval" && fn.Return == nil && p.IsDynEvent():
			// Kernels with fprobes type $retval from BTF and refuse a void one.
			return ps.errAt(a.pos, len(a.Fetch), "%s returns void: there is no $retval", fn.Name)
		case fn != nil && strings.HasPrefix(a.Fetch, "$arg") && (p.IsDynEvent() || p.KernelBTFArgs) && argNum(a.Fetch) > len(fn.Params):
			// As the kernel's NO_BTFARG: the caret under the token.
			return ps.errAt(a.pos, len(a.Fetch), "%s has %d arguments: there is no %s", fn.Name, len(fn.Params), a.Fetch)
		case a.Type == "" && fn != nil && a.Fetch == "$retval":
			if fn.Return != nil {
				a.Type, a.CType, a.Enum = autoType(fn.Return), fn.Return.C, fn.Return.Enum
				if a.Type == "string" {
					a.Fetch = "+0($retval)"
				}
			}
		case fn != nil && strings.HasPrefix(a.Fetch, "$arg") && a.Name == "":
			var n int
			if _, err := fmt.Sscanf(a.Fetch, "$arg%d", &n); err == nil && n >= 1 && n <= len(fn.Params) && fn.Params[n-1].Name != "" {
				a.Name = fn.Params[n-1].Name // as Linux 6.5+ names it
				c := fn.Params[n-1].Type
				a.CType, a.Enum = c.C, c.Enum
				if a.Type == "" {
					a.Type = autoType(c)
					if a.Type == "string" {
						a.Fetch = "+0(" + a.Fetch + ")"
					}
				}
			}
		case a.Type == "" && fn != nil && strings.HasPrefix(a.Fetch, "$arg"):
			var n int
			if _, err := fmt.Sscanf(a.Fetch, "$arg%d", &n); err == nil && n >= 1 && n <= len(fn.Params) {
				c := fn.Params[n-1].Type
				a.Type, a.CType, a.Enum = autoType(c), c.C, c.Enum
				if a.Name == "" && fn.Params[n-1].Name != "" {
					a.Name = fn.Params[n-1].Name // as Linux 6.5+ names it
				}
				if a.Type == "string" {
					a.Fetch = "+0(" + a.Fetch + ")"
				}
			}
		}
		out = append(out, a)
	}
	if err := ps.checkArgs(out); err != nil {
		return err
	}
	p.Args = out
	return nil
}

// allArgs expands $arg* (at byte pos) to every argument of fn, by name.
func (ps *parser) allArgs(b *BTF, fn *FuncProto, ferr error, pos int) ([]FetchArg, error) {
	if ferr != nil {
		return nil, ps.errAt(pos, len("$arg*"), "$arg* needs the function's BTF: %v", ferr)
	}
	var out []FetchArg
	for j, prm := range fn.Params {
		if prm.Name == "" {
			return nil, ps.errAt(pos, len("$arg*"), "argument %d of %s has no name in BTF", j+1, fn.Name)
		}
		fa := FetchArg{Name: prm.Name, Raw: prm.Name}
		if err := ps.resolveExpr(b, fn, &fa, prm.Name, pos, ""); err != nil {
			return nil, err
		}
		out = append(out, fa)
	}
	return out, nil
}

// resolveBTFArg resolves an argument written with BTF names (arg->member,
// %pd/%pD) to its fetcharg; ferr is why fn is unknown, if it is.
func (ps *parser) resolveBTFArg(b *BTF, fn *FuncProto, ferr error, a FetchArg) (FetchArg, error) {
	if ferr != nil && a.btf.expr != "" {
		return a, ps.errAt(a.btf.pos, len(a.btf.expr), "%v", ferr)
	}
	fa := a
	if a.btf.expr != "" {
		if err := ps.resolveExpr(b, fn, &fa, a.btf.expr, a.btf.pos, a.btf.user); err != nil {
			return a, err
		}
	}
	if a.btf.dentry != "" {
		if err := ps.wrapDentry(b, &fa, a.btf.dentry, a.btf.pos); err != nil {
			return a, err
		}
	}
	fa.btf = nil
	return fa, nil
}

// checkArgs refuses what the kernel would: too many arguments, two of one
// name, a fetcharg too long.
func (ps *parser) checkArgs(out []FetchArg) error {
	if len(out) > maxArgs {
		return ps.errAt(0, len(ps.p.Def), "too many arguments after expanding $arg*: %d (the kernel allows %d)", len(out), maxArgs)
	}
	seen := map[string]int{}
	for i := range out {
		name := out[i].FieldName(i)
		if j, dup := seen[name]; dup {
			return ps.errAt(0, len(ps.p.Def), "argument %d and %d are both named %s (give one NAME=)", j+1, i+1, name)
		}
		seen[name] = i
		if n := len(out[i].Fetch) + len(out[i].Type) + btoi(out[i].Type != ""); n > maxArgLen {
			return ps.errAt(0, len(ps.p.Def), "argument %s translates to %s:%s, %d characters (the kernel allows %d)", name, out[i].Fetch, out[i].Type, n, maxArgLen)
		}
	}
	return nil
}

// autoType is the fetch type kpcap gives a value of C type c.
func autoType(c *CType) string {
	if c.Fetch == "" {
		return "x64"
	}
	return c.Fetch
}

// prototype finds the probed function's (or tracepoint's) prototype.
func (p *Probe) prototype(b *BTF) (*FuncProto, error) {
	switch {
	case p.Kind == KindTprobe:
		return b.Tracepoint(p.Symbol)
	case p.IsUprobe() || p.Kind == KindEprobe:
		return nil, errors.New("names need a kernel function: uprobes and event probes have no BTF prototype")
	case p.Symbol == "":
		return nil, errors.New("names need a probe on a function, not an address")
	case p.Offset != 0:
		return nil, errors.New("names need a probe on the function entry (no +offset)")
	}
	return b.Func(p.Module, p.Symbol)
}

// resolveExpr translates expr (NAME, NAME->a.b->c, $retval->x) into fa.
func (ps *parser) resolveExpr(b *BTF, fn *FuncProto, fa *FetchArg, expr string, pos int, user string) error {
	head, rest := expr, ""
	if i := strings.IndexAny(expr, ".-"); i >= 0 {
		head, rest = expr[:i], expr[i:]
	}
	fetch, typ, err := ps.resolveHead(fn, head, pos)
	if err != nil {
		return err
	}
	if rest != "" && strings.HasPrefix(rest, ".") {
		return ps.errAt(pos+len(head), 1, "'.' on an argument: use -> (%s is a pointer or a value, not a struct)", head)
	}
	fetch, t, bitOff, bitSize, err := ps.walkMembers(fetch, typ.t, rest, pos+len(head))
	if err != nil {
		return err
	}
	return ps.fetchType(fa, newCType(t), fetch, expr, pos, user, bitOff, bitSize)
}

// resolveHead resolves an expression's head, $retval or an argument's
// name, to its fetcharg and type.
func (ps *parser) resolveHead(fn *FuncProto, head string, pos int) (fetch string, typ *CType, err error) {
	if head == "$retval" {
		if !ps.p.IsReturn() {
			return "", nil, ps.errAt(pos, len(head), "$retval only exists in return probes (r, f ...%%return)")
		}
		if fn.Return == nil {
			return "", nil, ps.errAt(pos, len(head), "%s returns void: there is no $retval", fn.Name)
		}
		return "$retval", fn.Return, nil
	}
	for i, prm := range fn.Params {
		if prm.Name == head {
			return fmt.Sprintf("$arg%d", i+1), prm.Type, nil
		}
	}
	if len(fn.Params) > 0 && fn.Params[0].Name == "" {
		return "", nil, ps.errAt(pos, len(head), "this kernel's BTF has no names for the arguments of %s (tracepoint probes name them from Linux 6.5 on); use $argN", fn.Name)
	}
	var names []string
	for _, prm := range fn.Params {
		names = append(names, prm.Name)
	}
	return "", nil, ps.errAt(pos, len(head), "%s has no argument %q (it has: %s)", fn.Name, head, strings.Join(names, ", "))
}

// walkMembers follows rest ("->a.b->c", at byte off of the expression)
// from fetch of type t: each -> dereferences, each member adds its offset.
// It returns the member's fetcharg and type, and its bit offset and size
// when it is a bitfield.
func (ps *parser) walkMembers(fetch string, t btf.Type, rest string, off int) (string, btf.Type, uint32, uint32, error) {
	bitOff, bitSize := uint32(0), uint32(0)
	for rest != "" {
		// rest starts with "->": dereference t, then walk ".member" inside.
		if !strings.HasPrefix(rest, "->") {
			return "", nil, 0, 0, ps.errAt(off, 1, "bad separator %q: want -> or .", rest[:1])
		}
		ptr, ok := skipMods(t).(*btf.Pointer)
		if !ok {
			return "", nil, 0, 0, ps.errAt(off+2, 1, "-> on %s, which is not a pointer to a struct", cName(t))
		}
		t = skipMods(ptr.Target)
		rest, off = rest[2:], off+2
		var acc uint32
		for {
			name := rest
			i := strings.IndexAny(rest, ".-")
			if i >= 0 {
				name = rest[:i]
			}
			if name == "" {
				return "", nil, 0, 0, ps.errAt(off, 1, "missing member name")
			}
			switch t.(type) {
			case *btf.Struct, *btf.Union:
			default:
				return "", nil, 0, 0, ps.errAt(off, len(name), "%s is not a struct or union: it has no member %s", cName(t), name)
			}
			m, moff, found := member(t, name)
			if !found {
				return "", nil, 0, 0, ps.errAt(off, len(name), "%s has no member %q", cName(t), name)
			}
			acc += moff
			bitSize = uint32(m.BitfieldSize)
			t = m.Type
			if i < 0 {
				rest, off = "", off+len(name)
				break
			}
			rest, off = rest[i:], off+i
			if strings.HasPrefix(rest, "->") {
				break
			}
			if rest[0] != '.' {
				return "", nil, 0, 0, ps.errAt(off, 1, "bad separator %q: want -> or .", rest[:1])
			}
			rest, off = rest[1:], off+1
			t = skipMods(t)
		}
		fetch = fmt.Sprintf("+%d(%s)", acc/8, fetch)
		bitOff = acc % 8
	}
	return fetch, t, bitOff, bitSize, nil
}

// fetchType sets fa's C type, fetch and fetch type for a value of type c:
// the user's type when given (a string reads through the pointer), else
// a bitfield read or the type's own.
func (ps *parser) fetchType(fa *FetchArg, c *CType, fetch, expr string, pos int, user string, bitOff, bitSize uint32) error {
	fa.CType, fa.Enum = c.C, c.Enum
	if bitSize != 0 {
		fa.CType = fmt.Sprintf("%s:%d", c.C, bitSize)
	}
	typ2 := user
	switch {
	case user != "" && strings.Contains(user, "string"):
		switch c.Kind {
		case "string":
			fetch = "+0(" + fetch + ")"
		case "chararray":
			if !strings.HasPrefix(fetch, "+") {
				return ps.errAt(pos, len(expr), "a char array argument cannot be read as a string")
			}
		default:
			return ps.errAt(pos, len(expr), "%s is %s, not a char * or char array: it cannot be a %s", expr, c.C, user)
		}
	case user != "":
	case bitSize%8 != 0 || bitOff != 0:
		w := bitSize
		if w == 0 {
			w = uint32(c.Size * 8)
		}
		cont := uint32(8)
		for cont < w+bitOff {
			cont *= 2
		}
		if cont > 64 {
			return ps.errAt(pos, len(expr), "bitfield %s does not fit a 64-bit read", expr)
		}
		typ2 = fmt.Sprintf("b%d@%d/%d", w, bitOff, cont)
	default:
		typ2 = autoType(c)
		switch c.Kind {
		case "string":
			fetch = "+0(" + fetch + ")"
		case "chararray":
			if !strings.HasPrefix(fetch, "+") {
				typ2 = "x64"
			}
		}
	}
	fa.Fetch, fa.Type = fetch, typ2
	return nil
}

// wrapDentry turns FETCH:%pd (a struct dentry *) and FETCH:%pD (a struct
// file *) into the dentry name string, as the kernel itself expands them.
func (ps *parser) wrapDentry(b *BTF, fa *FetchArg, spec string, pos int) error {
	off := func(st, path string) (uint32, error) {
		t, err := b.lookupType("struct " + st)
		if err != nil {
			return 0, err
		}
		var acc uint32
		for _, name := range strings.Split(path, ".") {
			m, moff, ok := member(t, name)
			if !ok {
				return 0, fmt.Errorf("struct %s has no member %s", st, path)
			}
			acc += moff
			t = skipMods(m.Type)
		}
		return acc / 8, nil
	}
	name, err := off("dentry", "d_name.name")
	if err != nil {
		return ps.errAt(pos, len(fa.Raw), "%%pd needs struct dentry in BTF: %v", err)
	}
	inner := fa.Fetch
	if spec == "%pD" {
		d, err := off("file", "f_path.dentry")
		if err != nil {
			return ps.errAt(pos, len(fa.Raw), "%%pD needs struct file in BTF: %v", err)
		}
		inner = fmt.Sprintf("+%d(%s)", d, inner)
	}
	fa.Fetch = fmt.Sprintf("+0(+%d(%s))", name, inner)
	fa.Type, fa.CType, fa.Enum = "string", "const unsigned char *", nil
	return nil
}

// argNum returns N of "$argN", 0 if fetch is not one.
func argNum(fetch string) int {
	var n int
	if _, err := fmt.Sscanf(fetch, "$arg%d", &n); err != nil {
		return 0
	}
	return n
}
