//go:build linux

package bpfprog

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/record/probedef"
)

// TestParseString translates string arguments and checks where the
// program reads each string from: a kprobe's :string from either half of
// the address space (the address says which), :ustring and +u from user
// memory, a uprobe's from user memory, $comm from the task, an immediate
// from the program (a uprobe's: nothing, as the kernel); and that the
// forms without a translation wrap ErrFetch.
func TestParseString(t *testing.T) {
	regs, err := loadProbeRegs()
	if err != nil {
		need(t, "needs the kernel's BTF: "+err.Error())
	}
	r1 := "%" + probedef.HostArch.ArgRegs[1]
	si := fetch{reg: regs.off[probedef.HostArch.ArgRegs[1]]}
	inner := fetch{reg: si.reg, derefs: []deref{{off: 8, either: true}}}
	for _, tc := range []struct {
		expr, typ   string
		kernel, ret bool
		want        strFetch
	}{
		{"+0(" + r1 + ")", "string", true, false, strFetch{ptr: si, either: true}},
		{"+4(" + r1 + ")", "ustring", true, false, strFetch{ptr: si, off: 4, user: true}},
		{"+u0(" + r1 + ")", "string", true, false, strFetch{ptr: si, user: true}},
		{"+0(+8(" + r1 + "))", "string", true, true, strFetch{ptr: inner, either: true}},
		{"-2(" + r1 + ")", "string", false, false, strFetch{ptr: fetch{reg: si.reg}, off: -2, user: true, uprobe: true}},
		{"$comm", "string", true, false, strFetch{kind: strComm}},
		{"$comm", "string", false, true, strFetch{kind: strComm, uprobe: true}},
		{`\"text"`, "string", true, false, strFetch{kind: strImm, text: "text"}},
		{`\"text"`, "string", false, false, strFetch{kind: strImm, text: "text", uprobe: true}},
	} {
		got, err := parseString(tc.expr, tc.typ, tc.kernel, tc.ret, regs)
		if err != nil {
			t.Errorf("%s:%s: %v", tc.expr, tc.typ, err)
			continue
		}
		if len(got.ptr.derefs) == 0 { // empty or nil alike
			got.ptr.derefs = nil
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:%s (kernel %v): %+v, want %+v", tc.expr, tc.typ, tc.kernel, got, tc.want)
		}
	}
	for _, tc := range []struct{ expr, typ string }{
		{r1, "string"},         // the kernel refuses a register as a string
		{"@jiffies", "string"}, // memory at a symbol
		{`\"` + strings.Repeat("x", 65) + `"`, "string"}, // longer than the kernel takes
		{"+0(" + r1 + ")", "u8"},                         // not a string
		{"+0(%nosuchreg)", "string"},
	} {
		if _, err := parseString(tc.expr, tc.typ, true, false, regs); !errors.Is(err, ErrFetch) {
			t.Errorf("%s:%s: %v, want ErrFetch", tc.expr, tc.typ, err)
		}
	}
}
