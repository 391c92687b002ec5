package probedef

import (
	"runtime"
	"sort"
	"strings"
)

// Arch is the register set kprobe and uprobe fetch arguments name on one machine
// architecture: the kernel's regoffset_table (arch/*/kernel/ptrace.c), which
// regs_query_register_offset looks %NAME up in.
type Arch struct {
	// GOARCH is Go's name of the architecture: "amd64" or "arm64".
	GOARCH string
	// Machine is the uname machine name: "x86_64" or "aarch64".
	Machine string
	// ArgRegs are the registers holding a function's integer arguments, first
	// argument first (the kernel's regs_get_kernel_argument order; user code
	// follows the same calling convention on both architectures).
	ArgRegs []string
	// RetReg is the register holding a function's return value.
	RetReg string

	regs    map[string]bool   // the kernel's names
	aliases map[string]string // assembler spellings accepted and rewritten to the kernel's
	help    string            // the register names, for error messages
}

// archs are the architectures kpcap records on.
var archs = map[string]*Arch{
	archX86.GOARCH:   archX86,
	archArm64.GOARCH: archArm64,
}

// ArchFor returns the register set of GOARCH goarch ("amd64", "arm64"), or
// nil if kpcap does not know it.
func ArchFor(goarch string) *Arch { return archs[goarch] }

// HostArch is the register set Parse checks against: that of the machine the
// binary runs on, which is the one that records. Builds for other
// architectures (analysis only) fall back to x86-64.
var HostArch = hostArch()

func hostArch() *Arch {
	if a := ArchFor(runtime.GOARCH); a != nil {
		return a
	}
	return archX86
}

// Register returns the kernel's name (without %) for register name, accepting
// the aliases the architecture allows (rax/eax on x86-64, lr on arm64) in
// any case.
func (a *Arch) Register(name string) (string, bool) {
	if a.regs[name] {
		return name, true
	}
	l := strings.ToLower(name)
	if k, ok := a.aliases[l]; ok {
		return k, true
	}
	if a.regs[l] {
		return l, true
	}
	return "", false
}

// Registers returns a short description of the accepted register names,
// e.g. "x86-64: ax bx ... r8..r15, or rax/eax forms".
func (a *Arch) Registers() string { return a.help }

// ParseArch is Parse for a recording machine of architecture a (nil means
// HostArch): register fetch arguments are checked against a's names.
func ParseArch(def string, a *Arch) (*Probe, error) {
	if a == nil {
		a = HostArch
	}
	ps := &parser{def: def, p: &Probe{Def: def}, arch: a}
	if err := ps.parse(); err != nil {
		return nil, err
	}
	return ps.p, nil
}

// parseReg checks the register fetch argument s ("%NAME") at pos and returns
// it in the kernel's spelling.
func (ps *parser) parseReg(s string, pos int) (string, fetchKind, error) {
	a := ps.arch
	if a == nil {
		a = HostArch
	}
	if k, ok := a.Register(s[1:]); ok {
		return "%" + k, fkReg, nil
	}
	return "", 0, ps.errAt(pos, len(s), "unknown register %q (%s)", s, a.help)
}

// argRegsHelp lists the argument registers as "%di %si ...", for messages.
func (ps *parser) argRegsHelp() string {
	a := ps.arch
	if a == nil {
		a = HostArch
	}
	return "%" + strings.Join(a.ArgRegs, " %")
}

// Names returns the kernel's register names of a, sorted.
func (a *Arch) Names() []string {
	names := make([]string, 0, len(a.regs))
	for n := range a.regs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
