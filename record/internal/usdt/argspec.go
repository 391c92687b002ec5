package usdt

import (
	"fmt"
	"strconv"
	"strings"
)

// ArgKind says where a marker argument lives.
type ArgKind int

// Argument locations.
const (
	ArgReg ArgKind = iota // in a register
	ArgMem                // in memory at register + offset
	ArgImm                // a constant
)

// ArgSpec is one argument of a marker, decoded from the note's argument
// string (sys/sdt.h: "[-]SIZE@OPERAND", the operand in the assembler's
// syntax: "%edi", "-16(%rbp)", "$5" on x86-64; "x0", "[sp, 16]" on arm64).
type ArgSpec struct {
	Size   int  // bytes: 1, 2, 4 or 8
	Signed bool // a negative SIZE
	Kind   ArgKind
	Reg    string // the kernel's register name (pt_regs): "di", "bp", "x0", "sp"
	Offset int64  // ArgMem: displacement from Reg
	Imm    int64  // ArgImm: the constant
	Raw    string // the spec as written
}

// Fetch renders the argument as a kprobe_events fetch argument: "%di",
// "-16(%bp)", "\5".
func (a ArgSpec) Fetch() string {
	switch a.Kind {
	case ArgMem:
		if a.Offset < 0 {
			return fmt.Sprintf("-%d(%%%s)", uint64(-a.Offset), a.Reg)
		}
		return fmt.Sprintf("+%d(%%%s)", a.Offset, a.Reg)
	case ArgImm:
		return `\` + strconv.FormatInt(a.Imm, 10)
	}
	return "%" + a.Reg
}

// Type is the fetch type of the argument's size and signedness: "s32", "u64".
func (a ArgSpec) Type() string {
	if a.Signed {
		return "s" + strconv.Itoa(a.Size*8)
	}
	return "u" + strconv.Itoa(a.Size*8)
}

// Deref renders a fetch argument reading memory at the argument's value
// (what a :string or :ustring of a pointer argument needs): "+0(%di)",
// "+0(-16(%bp))". Immediates cannot be dereferenced.
func (a ArgSpec) Deref() (string, bool) {
	if a.Kind == ArgImm {
		return "", false
	}
	return "+0(" + a.Fetch() + ")", true
}

// maxArgSpecs bounds the arguments of one marker (sys/sdt.h allows 12).
const maxArgSpecs = 12

// ParseArgSpecs decodes a marker's argument string for the ELF machine arch
// ("amd64" or "arm64", as GOARCH spells them). Errors name the argument.
func ParseArgSpecs(spec, arch string) ([]ArgSpec, error) {
	fields := strings.Fields(spec)
	if arch == "arm64" {
		// "[sp, 16]" holds a space: glue the bracketed parts back together.
		var glued []string
		for i := 0; i < len(fields); i++ {
			f := fields[i]
			for strings.Contains(f, "[") && !strings.Contains(f, "]") && i+1 < len(fields) {
				i++
				f += " " + fields[i]
			}
			glued = append(glued, f)
		}
		fields = glued
	}
	if len(fields) > maxArgSpecs {
		return nil, fmt.Errorf("%d arguments in %q, at most %d", len(fields), spec, maxArgSpecs)
	}
	out := make([]ArgSpec, 0, len(fields))
	for i, f := range fields {
		a, err := parseArgSpec(f, arch)
		if err != nil {
			return nil, fmt.Errorf("argument %d %q: %w", i+1, f, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func parseArgSpec(f, arch string) (ArgSpec, error) {
	a := ArgSpec{Raw: f}
	size, op, ok := strings.Cut(f, "@")
	if !ok {
		return a, fmt.Errorf("no SIZE@ prefix")
	}
	if s, neg := strings.CutPrefix(size, "-"); neg {
		a.Signed, size = true, s
	}
	switch size {
	case "1", "2", "4", "8":
		a.Size = int(size[0] - '0')
	default:
		return a, fmt.Errorf("size %q is not 1, 2, 4 or 8", size)
	}
	var err error
	switch arch {
	case "amd64":
		err = a.parseX86(op)
	case "arm64":
		err = a.parseArm64(op)
	default:
		err = fmt.Errorf("markers of %s binaries are not supported (amd64, arm64)", arch)
	}
	return a, err
}

// x86Regs maps the assembler's register names, of any width, to pt_regs names.
var x86Regs = func() map[string]string {
	m := map[string]string{"rip": "ip", "eip": "ip"}
	for _, r := range []string{"ax", "bx", "cx", "dx"} {
		m["r"+r], m["e"+r], m[r], m[r[:1]+"l"] = r, r, r, r
	}
	for _, r := range []string{"si", "di", "bp", "sp"} {
		m["r"+r], m["e"+r], m[r], m[r+"l"] = r, r, r, r
	}
	for i := 8; i <= 15; i++ {
		r := "r" + strconv.Itoa(i)
		m[r], m[r+"d"], m[r+"w"], m[r+"b"] = r, r, r, r
	}
	return m
}()

func (a *ArgSpec) parseX86(op string) error {
	switch {
	case strings.HasPrefix(op, "$"):
		n, err := strconv.ParseInt(op[1:], 0, 64)
		if err != nil {
			return fmt.Errorf("immediate %q is not a number", op)
		}
		a.Kind, a.Imm = ArgImm, n
		return nil
	case strings.HasPrefix(op, "%"):
		r, ok := x86Regs[op[1:]]
		if !ok {
			return fmt.Errorf("unknown register %q", op)
		}
		a.Kind, a.Reg = ArgReg, r
		return nil
	}
	open := strings.IndexByte(op, '(')
	if open < 0 || !strings.HasSuffix(op, ")") {
		return fmt.Errorf("operand %q is not %%REG, $IMM or OFFSET(%%REG)", op)
	}
	inner := op[open+1 : len(op)-1]
	if strings.Contains(inner, ",") {
		return fmt.Errorf("indexed operand %q is not supported", op)
	}
	r, ok := x86Regs[strings.TrimPrefix(inner, "%")]
	if !ok || !strings.HasPrefix(inner, "%") {
		return fmt.Errorf("unknown register %q", inner)
	}
	if r == "ip" {
		return fmt.Errorf("RIP-relative operand %q (a global variable) is not supported", op)
	}
	var off int64
	if d := op[:open]; d != "" {
		var err error
		if off, err = strconv.ParseInt(d, 0, 64); err != nil {
			return fmt.Errorf("offset %q is not a number", d)
		}
	}
	a.Kind, a.Reg, a.Offset = ArgMem, r, off
	return nil
}

// arm64Reg maps "x0".."x30", "w0".."w30", "sp", "wsp" to pt_regs names.
func arm64Reg(s string) (string, bool) {
	switch s {
	case "sp", "wsp":
		return "sp", true
	case "lr":
		return "x30", true
	}
	if len(s) < 2 || (s[0] != 'x' && s[0] != 'w') {
		return "", false
	}
	n, err := strconv.Atoi(s[1:])
	if err != nil || n < 0 || n > 30 || s[1:] != strconv.Itoa(n) {
		return "", false
	}
	return "x" + strconv.Itoa(n), true
}

func (a *ArgSpec) parseArm64(op string) error {
	if strings.HasPrefix(op, "[") {
		if !strings.HasSuffix(op, "]") {
			return fmt.Errorf("unterminated memory operand %q", op)
		}
		base, off, _ := strings.Cut(op[1:len(op)-1], ",")
		r, ok := arm64Reg(strings.TrimSpace(base))
		if !ok {
			return fmt.Errorf("unknown register %q", base)
		}
		var n int64
		if off = strings.TrimPrefix(strings.TrimSpace(off), "#"); off != "" {
			var err error
			if n, err = strconv.ParseInt(off, 0, 64); err != nil {
				return fmt.Errorf("offset %q is not a number", off)
			}
		}
		a.Kind, a.Reg, a.Offset = ArgMem, r, n
		return nil
	}
	if r, ok := arm64Reg(op); ok {
		a.Kind, a.Reg = ArgReg, r
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(op, "#"), 0, 64)
	if err != nil {
		return fmt.Errorf("operand %q is not a register, [REG, OFFSET] or a constant", op)
	}
	a.Kind, a.Imm = ArgImm, n
	return nil
}
