package probedef

import (
	"fmt"
	"strings"
)

// Kind says what a probe attaches to and when it fires.
type Kind int

// The probe kinds, decided by the leading p/r and by the target (a path means user space).
const (
	KindKprobe Kind = iota
	KindKretprobe
	KindUprobe
	KindUretprobe
	KindFprobe    // f SYM: fprobe on a function entry (Linux 6.5+, CONFIG_FPROBE_EVENTS)
	KindFretprobe // f SYM%return: fprobe on a function exit
	KindTprobe    // t TRACEPOINT: probe on a tracepoint's raw arguments (Linux 6.5+)
	KindEprobe    // e SYS.EVENT: event probe on another trace event (Linux 5.15+)
)

// String names the kind as the kernel documentation does.
func (k Kind) String() string {
	switch k {
	case KindKprobe:
		return "kprobe"
	case KindKretprobe:
		return "kretprobe"
	case KindUprobe:
		return "uprobe"
	case KindUretprobe:
		return "uretprobe"
	case KindFprobe:
		return "fprobe"
	case KindFretprobe:
		return "fexit"
	case KindTprobe:
		return "tprobe"
	case KindEprobe:
		return "eprobe"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// FetchArg is one fetch argument of a probe.
type FetchArg struct {
	// Name is the field name the user gave, or "" (the kernel then names it argN, N counting from 1).
	Name string
	// Fetch is the canonical fetch expression as written to tracefs, e.g. "+0(%si)".
	Fetch string
	// Type is the canonical type, e.g. "string", "u64", "b4@0/32", "u8[4]", or "" for the kernel default.
	Type string
	// Raw is the argument exactly as given.
	Raw string
	// CType is the C type of a value resolved through BTF ("unsigned int",
	// "struct file *", "unsigned char:3" for a bitfield), "" otherwise.
	CType string
	// Enum names the values of an enum-typed value (from BTF), nil otherwise.
	Enum map[int64]string

	btf *btfArg // set until ResolveBTF translates the argument
	pos int     // byte offset of the fetch (after NAME=) in the definition
}

// FieldName returns the name of the argument's field in the event: Name, or
// the kernel's default argN for the i-th argument (from 0).
func (a *FetchArg) FieldName(i int) string {
	if a.Name != "" {
		return a.Name
	}
	return fmt.Sprintf("arg%d", i+1)
}

// Probe is one parsed probe definition.
type Probe struct {
	Def       string // the definition as given
	Kind      Kind
	Group     string // "" if not given (the kernel default is "kprobes" / "uprobes")
	Event     string // "" if not given
	Module    string // kprobe MOD: prefix
	Symbol    string // kprobe symbol or uprobe symbol ("" when an address/offset is used)
	Offset    uint64 // +offs (for a uprobe without Symbol: the file offset)
	Addr      uint64 // kprobe MEMADDR (when Symbol == "")
	Path      string // uprobe binary path
	System    string // event probe: the attached event's group (SYS of SYS.EVENT)
	RefCtr    uint64 // uprobe reference counter offset, PATH:OFFSET(REF); 0 if none
	MaxActive int    // r<N>
	Args      []FetchArg
	// KernelBTFArgs says the running kernel's probe events know BTF (its
	// tracefs README lists <argname>, Linux 6.6+). Such a kernel refuses a
	// kprobe's $argN past the function's prototype, and so does ResolveBTF;
	// older kernels read whatever the register or stack slot holds.
	KernelBTFArgs bool

	// resolved file offset of a uprobe target (see ResolveUprobe).
	fileOff  uint64
	resolved bool
}

// IsReturn reports whether the probe fires on function return.
func (p *Probe) IsReturn() bool {
	return p.Kind == KindKretprobe || p.Kind == KindUretprobe || p.Kind == KindFretprobe
}

// IsDynEvent reports whether the probe is an fprobe, tracepoint probe or
// event probe: created through dynamic_events, never through a PMU.
func (p *Probe) IsDynEvent() bool {
	return p.Kind == KindFprobe || p.Kind == KindFretprobe || p.Kind == KindTprobe || p.Kind == KindEprobe
}

// IsUprobe reports whether the probe is in user space.
func (p *Probe) IsUprobe() bool { return p.Kind == KindUprobe || p.Kind == KindUretprobe }

// UsesPMU reports whether the probe can use the kprobe/uprobe PMU (no fetchargs, no maxactive),
// which leaves nothing behind in tracefs. A uprobe reference counter
// (PATH:OFFSET(REF)) goes into the uprobe PMU's config (ref_ctr_offset, Linux 4.20+).
func (p *Probe) UsesPMU() bool {
	return len(p.Args) == 0 && p.MaxActive == 0 && !p.IsDynEvent()
}

// Target returns the probed location: "do_sys_openat2", "mod:sym+0x10", "0xaddr", "/path:sym", "/path:0x1234".
func (p *Probe) Target() string {
	var b strings.Builder
	if p.Kind == KindEprobe {
		return p.System + "." + p.Symbol
	}
	if p.IsUprobe() {
		b.WriteString(p.Path)
		b.WriteByte(':')
		if p.Symbol != "" {
			b.WriteString(p.Symbol)
			if p.Offset != 0 {
				fmt.Fprintf(&b, "+0x%x", p.Offset)
			}
		} else {
			fmt.Fprintf(&b, "0x%x", p.Offset)
		}
		if p.RefCtr != 0 {
			fmt.Fprintf(&b, "(0x%x)", p.RefCtr)
		}
		return b.String()
	}
	if p.Symbol == "" {
		return fmt.Sprintf("0x%x", p.Addr)
	}
	if p.Module != "" {
		b.WriteString(p.Module)
		b.WriteByte(':')
	}
	b.WriteString(p.Symbol)
	if p.Offset != 0 {
		fmt.Fprintf(&b, "+0x%x", p.Offset)
	}
	return b.String()
}
