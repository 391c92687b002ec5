package probedef

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cilium/ebpf/btf"
	"github.com/kpcap/kpcap/record/internal/kernelbtf"
)

// KernelBTFDir is where a running kernel publishes its BTF: vmlinux and one
// file per loaded module.
const KernelBTFDir = "/sys/kernel/btf"

// ErrNoBTF means the kernel or file has no BTF type information.
var ErrNoBTF = errors.New("no BTF type information")

// BTF is a kernel's type information (vmlinux and, on demand, its modules'),
// used to resolve function argument names, struct members and their C types.
// It is safe for concurrent use.
type BTF struct {
	spec   *btf.Spec
	source string // file the spec came from
	modDir string // directory of module BTF files, "" when not a running kernel

	mu   sync.Mutex
	mods map[string]*btf.Spec
}

// LoadKernelBTF loads the running kernel's BTF from /sys/kernel/btf/vmlinux.
// Module BTF (/sys/kernel/btf/MODULE) is loaded when a lookup names a module.
func LoadKernelBTF() (*BTF, error) {
	path := filepath.Join(KernelBTFDir, "vmlinux")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("load BTF: %w: %w (kernel built without CONFIG_DEBUG_INFO_BTF?)", ErrNoBTF, err)
	}
	// The process decodes the kernel's BTF once, for the probes and the
	// BPF programs alike (kernelbtf).
	spec, err := kernelbtf.Spec()
	if err != nil {
		return nil, fmt.Errorf("load BTF from %s: %w", path, err)
	}
	return &BTF{spec: spec, source: path, modDir: KernelBTFDir}, nil
}

// LoadBTF loads BTF from a file: a raw BTF blob (such as a copy of
// /sys/kernel/btf/vmlinux) or an ELF vmlinux with a .BTF section.
func LoadBTF(path string) (*BTF, error) {
	spec, err := btf.LoadSpec(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("load BTF from %s: %w (kernel built without CONFIG_DEBUG_INFO_BTF?): %w", path, ErrNoBTF, err)
		}
		return nil, fmt.Errorf("load BTF from %s: %w", path, err)
	}
	return &BTF{spec: spec, source: path}, nil
}

// Source returns the file the BTF was loaded from.
func (b *BTF) Source() string { return b.source }

// module returns the split BTF of a kernel module, loading it once.
func (b *BTF) module(name string) (*btf.Spec, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.mods[name]; ok {
		return s, nil
	}
	if b.modDir == "" {
		return nil, fmt.Errorf("module %s: BTF from %s covers vmlinux only", name, b.source)
	}
	if strings.ContainsAny(name, "/.") || name == "" {
		return nil, fmt.Errorf("bad module name %q", name)
	}
	s, err := btf.LoadSplitSpec(filepath.Join(b.modDir, name), b.spec)
	if err != nil {
		return nil, fmt.Errorf("module %s BTF: %w", name, err)
	}
	if b.mods == nil {
		b.mods = map[string]*btf.Spec{}
	}
	b.mods[name] = s
	return s, nil
}

// NotFoundError says a function, tracepoint or type is not in the BTF.
type NotFoundError struct {
	What, Name string // "function", "tracepoint", "type"
	Source     string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %s not found in the kernel's BTF (%s)", e.What, e.Name, e.Source)
}

// FuncProto is a function's (or a tracepoint's) prototype from BTF.
type FuncProto struct {
	Name   string
	Module string  // "" for vmlinux
	Return *CType  // nil for void
	Params []Param // in order; $argN is Params[N-1]
}

// Param is one function parameter.
type Param struct {
	Name string // "" when BTF has no name for it
	Type *CType
}

// String renders the prototype as C: "ssize_t vfs_read(struct file *file, char *buf, size_t count, loff_t *pos)".
func (f *FuncProto) String() string {
	var b strings.Builder
	if f.Return == nil {
		b.WriteString("void")
	} else {
		b.WriteString(f.Return.C)
	}
	if !strings.HasSuffix(b.String(), "*") {
		b.WriteByte(' ')
	}
	b.WriteString(f.Name)
	b.WriteByte('(')
	for i, p := range f.Params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Type.C)
		if p.Name != "" {
			if !strings.HasSuffix(p.Type.C, "*") {
				b.WriteByte(' ')
			}
			b.WriteString(p.Name)
		}
	}
	if len(f.Params) == 0 {
		b.WriteString("void")
	}
	b.WriteByte(')')
	return b.String()
}

// CType is a C type from BTF, with what a probe fetches for it.
type CType struct {
	// C is the type as C spells it: "struct file *", "size_t", "unsigned int", "enum pid_type".
	C string
	// Fetch is the fetch type a probe argument of this type gets by default: u8..u64,
	// s8..s64, x64 (pointers), string (char pointers and arrays).
	Fetch string
	// Size is the size in bytes (pointers 8), 0 if unknown.
	Size int
	// Enum lists an enum's constants, value to name; nil for other types.
	Enum map[int64]string
	// Kind is the underlying kind: "int", "bool", "char", "enum", "pointer", "string" (char *),
	// "chararray", "struct", "union", "array", "float", "void", "func".
	Kind string

	t btf.Type // the type with qualifiers and typedefs
}

// Func looks up a kernel function's prototype. module may be "" (vmlinux,
// then each loaded module's BTF is searched when vmlinux lacks it).
func (b *BTF) Func(module, name string) (*FuncProto, error) {
	fn, mod, err := b.findFunc(module, name)
	if err != nil {
		return nil, err
	}
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok {
		return nil, fmt.Errorf("function %s: BTF type %T is not a prototype", name, fn.Type)
	}
	return newFuncProto(name, mod, proto, 0), nil
}

// Tracepoint looks up the arguments a tracepoint passes to its probes, as
// tracepoint probes (t:) see them: the parameters of its probe stub
// __probestub_NAME (Linux 6.5+, with names) or else of the btf_trace_NAME
// typedef (unnamed), without the hidden first __data argument.
func (b *BTF) Tracepoint(name string) (*FuncProto, error) {
	if fn, mod, err := b.findFunc("", "__probestub_"+name); err == nil {
		if proto, ok := fn.Type.(*btf.FuncProto); ok && len(proto.Params) > 0 {
			return newFuncProto(name, mod, proto, 1), nil
		}
	}
	var td *btf.Typedef
	err := b.spec.TypeByName("btf_trace_"+name, &td)
	if err != nil {
		return nil, &NotFoundError{What: "tracepoint", Name: name, Source: b.source}
	}
	ptr, ok := btf.UnderlyingType(td.Type).(*btf.Pointer)
	if !ok {
		return nil, fmt.Errorf("tracepoint %s: btf_trace_%s is not a function pointer", name, name)
	}
	proto, ok := btf.UnderlyingType(ptr.Target).(*btf.FuncProto)
	if !ok || len(proto.Params) == 0 {
		return nil, fmt.Errorf("tracepoint %s: btf_trace_%s is not a function pointer", name, name)
	}
	return newFuncProto(name, "", proto, 1), nil
}

func newFuncProto(name, mod string, proto *btf.FuncProto, skip int) *FuncProto {
	f := &FuncProto{Name: name, Module: mod}
	if _, void := proto.Return.(*btf.Void); !void && proto.Return != nil {
		f.Return = newCType(proto.Return)
	}
	for _, p := range proto.Params[skip:] {
		if p.Type == nil { // a variadic "..." marker
			continue
		}
		f.Params = append(f.Params, Param{Name: p.Name, Type: newCType(p.Type)})
	}
	return f
}

func (b *BTF) findFunc(module, name string) (*btf.Func, string, error) {
	if module != "" {
		s, err := b.module(module)
		if err != nil {
			return nil, "", err
		}
		if fn := funcIn(s, name); fn != nil {
			return fn, module, nil
		}
		return nil, "", &NotFoundError{What: "function", Name: module + ":" + name, Source: b.source}
	}
	if fn := funcIn(b.spec, name); fn != nil {
		return fn, "", nil
	}
	if b.modDir != "" {
		ents, _ := os.ReadDir(b.modDir)
		for _, e := range ents {
			if e.Name() == "vmlinux" {
				continue
			}
			s, err := b.module(e.Name())
			if err != nil {
				continue
			}
			if fn := funcIn(s, name); fn != nil {
				return fn, e.Name(), nil
			}
		}
	}
	return nil, "", &NotFoundError{What: "function", Name: name, Source: b.source}
}

func funcIn(s *btf.Spec, name string) *btf.Func {
	ts, err := s.AnyTypesByName(name)
	if err != nil {
		return nil
	}
	for _, t := range ts {
		if fn, ok := t.(*btf.Func); ok {
			return fn
		}
	}
	return nil
}

// Member is one field of a struct or union, as laid out in memory.
type Member struct {
	// Name is the member's name; members of anonymous structs and unions are
	// listed in their place with their own names (as C reaches them).
	Name string
	Type *CType
	// BitOffset is the offset from the start of the outer type in bits.
	BitOffset uint32
	// BitSize is the width of a bitfield, 0 for an ordinary member.
	BitSize uint32
}

// Offset returns the member's byte offset (of the byte holding its first bit).
func (m Member) Offset() uint32 { return m.BitOffset / 8 }

// Members lists the members of a struct or union, given as "struct file",
// "union bpf_attr" or a bare name ("file", "sk_buff", a typedef such as
// "atomic_t"). Anonymous struct and union members are flattened.
func (b *BTF) Members(typeName string) ([]Member, error) {
	t, err := b.lookupType(typeName)
	if err != nil {
		return nil, err
	}
	return membersOf(t)
}

// MembersOf lists the members of the struct or union a CType names, through
// pointers ("struct file *" lists struct file).
func (b *BTF) MembersOf(c *CType) ([]Member, error) {
	t := skipMods(c.t)
	if p, ok := t.(*btf.Pointer); ok {
		t = skipMods(p.Target)
	}
	return membersOf(t)
}

func membersOf(t btf.Type) ([]Member, error) {
	ms, ok := structMembers(t)
	if !ok {
		return nil, fmt.Errorf("%s is not a struct or union", cName(skipMods(t)))
	}
	var out []Member
	for _, m := range ms {
		if m.Name == "" {
			inner, err := membersOf(m.Type)
			if err == nil {
				for _, im := range inner {
					im.BitOffset += uint32(m.Offset)
					out = append(out, im)
				}
				continue
			}
		}
		out = append(out, Member{Name: m.Name, Type: newCType(m.Type), BitOffset: uint32(m.Offset), BitSize: uint32(m.BitfieldSize)})
	}
	return out, nil
}

// lookupType finds a named struct, union, enum or typedef.
func (b *BTF) lookupType(name string) (btf.Type, error) {
	want := ""
	for _, p := range []string{"struct ", "union ", "enum "} {
		if strings.HasPrefix(name, p) {
			want, name = strings.TrimSpace(p), strings.TrimSpace(name[len(p):])
		}
	}
	ts, err := b.spec.AnyTypesByName(name)
	if err != nil {
		return nil, &NotFoundError{What: "type", Name: name, Source: b.source}
	}
	var fallback btf.Type
	for _, t := range ts {
		switch t.(type) {
		case *btf.Struct:
			if want == "" || want == "struct" {
				return t, nil
			}
		case *btf.Union:
			if want == "" || want == "union" {
				return t, nil
			}
		case *btf.Enum:
			if want == "" || want == "enum" {
				return t, nil
			}
		case *btf.Typedef:
			if want == "" {
				fallback = t
			}
		}
	}
	if fallback != nil {
		return fallback, nil
	}
	return nil, &NotFoundError{What: "type", Name: name, Source: b.source}
}

// structMembers returns the members of t, a struct or union (behind
// typedefs and qualifiers); ok is false for any other type.
func structMembers(t btf.Type) (ms []btf.Member, ok bool) {
	switch t := skipMods(t).(type) {
	case *btf.Struct:
		return t.Members, true
	case *btf.Union:
		return t.Members, true
	}
	return nil, false
}

// member finds a member by name in a struct or union, looking inside anonymous
// members as C does, and returns it with its bit offset from t's start.
func member(t btf.Type, name string) (btf.Member, uint32, bool) {
	ms, ok := structMembers(t)
	if !ok {
		return btf.Member{}, 0, false
	}
	for _, m := range ms {
		if m.Name == name {
			return m, uint32(m.Offset), true
		}
	}
	for _, m := range ms {
		if m.Name == "" {
			if im, off, ok := member(m.Type, name); ok {
				return im, uint32(m.Offset) + off, true
			}
		}
	}
	return btf.Member{}, 0, false
}

// skipMods strips typedefs, const, volatile, restrict and type tags.
func skipMods(t btf.Type) btf.Type {
	for range 64 {
		switch v := t.(type) {
		case *btf.Typedef:
			t = v.Type
		case *btf.Const:
			t = v.Type
		case *btf.Volatile:
			t = v.Type
		case *btf.Restrict:
			t = v.Type
		case *btf.TypeTag:
			t = v.Type
		default:
			return t
		}
	}
	return t
}

func newCType(t btf.Type) *CType {
	c := &CType{C: cName(t), t: t}
	u := skipMods(t)
	if n, err := btf.Sizeof(u); err == nil {
		c.Size = n
	}
	switch v := u.(type) {
	case *btf.Int:
		switch {
		case v.Encoding&btf.Bool != 0:
			c.Kind, c.Fetch = "bool", "u8"
		case v.Encoding&btf.Char != 0 && v.Size == 1:
			c.Kind, c.Fetch = "char", "s8"
			if v.Encoding&btf.Signed == 0 {
				c.Fetch = "u8"
			}
		default:
			c.Kind = "int"
			c.Fetch = intFetch(int(v.Size), v.Encoding&btf.Signed != 0)
		}
	case *btf.Enum:
		c.Kind = "enum"
		c.Fetch = intFetch(int(v.Size), v.Signed)
		c.Enum = make(map[int64]string, len(v.Values))
		for _, ev := range v.Values {
			val := int64(ev.Value)
			if v.Size == 4 && v.Signed {
				val = int64(int32(ev.Value))
			}
			if _, dup := c.Enum[val]; !dup {
				c.Enum[val] = ev.Name
			}
		}
	case *btf.Pointer:
		c.Kind, c.Fetch, c.Size = "pointer", "x64", 8
		if isCharType(v.Target) {
			c.Kind, c.Fetch = "string", "string"
		} else if _, ok := skipMods(v.Target).(*btf.FuncProto); ok {
			c.Kind, c.Fetch = "func", "symbol"
		}
	case *btf.Array:
		c.Kind, c.Fetch = "array", "x64"
		if isCharType(v.Type) {
			c.Kind, c.Fetch = "chararray", "string"
		}
	case *btf.Struct:
		c.Kind, c.Fetch = "struct", "x64"
	case *btf.Union:
		c.Kind, c.Fetch = "union", "x64"
	case *btf.Float:
		c.Kind, c.Fetch = "float", intFetch(int(v.Size), false)
	case *btf.Void:
		c.Kind = "void"
	default:
		c.Kind, c.Fetch = "other", "x64"
	}
	return c
}

func isCharType(t btf.Type) bool {
	i, ok := skipMods(t).(*btf.Int)
	return ok && i.Size == 1 && (i.Encoding&btf.Char != 0 || i.Name == "char" || i.Name == "unsigned char" || i.Name == "signed char")
}

func intFetch(size int, signed bool) string {
	switch size {
	case 1, 2, 4, 8:
	default:
		return "x64"
	}
	if signed {
		return fmt.Sprintf("s%d", size*8)
	}
	return fmt.Sprintf("u%d", size*8)
}

// cName spells a BTF type as C would.
func cName(t btf.Type) string {
	return cDecl(t, "")
}

// cDecl renders type t around the declarator inner ("" for an abstract type).
func cDecl(t btf.Type, inner string) string {
	join := func(base, decl string) string {
		if decl == "" {
			return base
		}
		if strings.HasPrefix(decl, "*") || strings.HasPrefix(decl, "(") {
			return base + " " + decl
		}
		return base + " " + decl
	}
	for range 64 {
		switch v := t.(type) {
		case nil, *btf.Void:
			return join("void", inner)
		case *btf.Int:
			return join(v.Name, inner)
		case *btf.Float:
			return join(v.Name, inner)
		case *btf.Typedef:
			return join(v.Name, inner)
		case *btf.Struct:
			return join("struct "+anon(v.Name), inner)
		case *btf.Union:
			return join("union "+anon(v.Name), inner)
		case *btf.Enum:
			return join("enum "+anon(v.Name), inner)
		case *btf.Fwd:
			return join(v.Kind.String()+" "+v.Name, inner)
		case *btf.Const:
			if _, isPtr := v.Type.(*btf.Pointer); isPtr {
				return cDecl(v.Type, "const "+inner)
			}
			return "const " + cDecl(v.Type, inner)
		case *btf.Volatile:
			return "volatile " + cDecl(v.Type, inner)
		case *btf.Restrict:
			t = v.Type
		case *btf.TypeTag:
			t = v.Type
		case *btf.Pointer:
			inner = "*" + inner
			t = v.Target
			if _, isArr := skipMods(t).(*btf.Array); isArr {
				inner = "(" + inner + ")"
			}
			if _, isFn := skipMods(t).(*btf.FuncProto); isFn {
				inner = "(" + inner + ")"
			}
		case *btf.Array:
			inner = fmt.Sprintf("%s[%d]", inner, v.Nelems)
			t = v.Type
		case *btf.FuncProto:
			ps := make([]string, 0, len(v.Params))
			for _, p := range v.Params {
				if p.Type == nil {
					ps = append(ps, "...")
					continue
				}
				ps = append(ps, cName(p.Type))
			}
			if len(ps) == 0 {
				ps = append(ps, "void")
			}
			return cDecl(v.Return, inner+"("+strings.Join(ps, ", ")+")")
		default:
			return join(fmt.Sprintf("%T", v), inner)
		}
	}
	return "..."
}

func anon(name string) string {
	if name == "" {
		return "(anon)"
	}
	return name
}
