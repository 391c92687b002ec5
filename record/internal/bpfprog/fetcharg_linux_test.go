//go:build linux

package bpfprog

import (
	"errors"
	"reflect"
	"runtime"
	"testing"

	"github.com/kpcap/kpcap/record/probedef"
)

// TestParseFetch translates fetch expressions against this kernel's
// pt_regs and checks what the program would read, and that expressions
// without a translation wrap ErrFetch.
func TestParseFetch(t *testing.T) {
	regs, err := loadProbeRegs()
	if err != nil {
		need(t, "needs the kernel's BTF: "+err.Error())
	}
	a := probedef.HostArch
	r0, r1 := "%"+a.ArgRegs[0], "%"+a.ArgRegs[1]
	reg := func(name string) int {
		off, ok := regs.off[name]
		if !ok {
			t.Fatalf("no pt_regs offset for %s", name)
		}
		return off
	}
	sp := reg(regs.sp)
	for _, tc := range []struct {
		expr        string
		kernel, ret bool
		want        fetch
	}{
		{r0, false, false, fetch{reg: reg(a.ArgRegs[0])}},
		{"$arg2", true, false, fetch{reg: reg(a.ArgRegs[1])}},
		{"$retval", false, true, fetch{reg: reg(a.RetReg)}},
		{"$stack", true, false, fetch{reg: sp}},
		{"$stack3", false, false, fetch{reg: sp, derefs: []deref{{off: 24, user: true}}}},
		{"\\42", true, false, fetch{reg: -1, imm: 42}},
		{"\\-1", true, false, fetch{reg: -1, imm: -1}},
		{"\\0xffffffffffffffff", true, false, fetch{reg: -1, imm: -1}},
		{"+8(" + r1 + ")", true, false, fetch{reg: reg(a.ArgRegs[1]), derefs: []deref{{off: 8, either: true}}}},
		{"-16(" + r1 + ")", false, false, fetch{reg: reg(a.ArgRegs[1]), derefs: []deref{{off: -16, user: true}}}},
		{"+u0(+8(" + r1 + "))", true, false, fetch{reg: reg(a.ArgRegs[1]), derefs: []deref{{off: 8, either: true}, {off: 0, user: true}}}},
	} {
		got, err := parseFetch(tc.expr, tc.kernel, tc.ret, regs)
		if err != nil {
			t.Errorf("%s (kernel %v, return %v): %v", tc.expr, tc.kernel, tc.ret, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.expr, got, tc.want)
		}
	}
	for _, tc := range []struct {
		expr        string
		kernel, ret bool
	}{
		{"$comm", true, false},
		{"@jiffies", true, false},
		{"$retval", true, false}, // not a return probe
		{"$arg1", false, false},  // uprobes have no $argN
		{"$arg1", true, true},    // entry arguments on return
		{"$arg99", true, false},  // on the stack
		{"%nosuchreg", true, false},
		{"+8(" + r1, true, false},
		{"+x(" + r1 + ")", true, false},
		{"task->pid", true, false}, // an unresolved BTF name
	} {
		if _, err := parseFetch(tc.expr, tc.kernel, tc.ret, regs); !errors.Is(err, ErrFetch) {
			t.Errorf("%s (kernel %v, return %v): %v, want ErrFetch", tc.expr, tc.kernel, tc.ret, err)
		}
	}
	if runtime.GOARCH == "arm64" && reg("lr") != reg("x30") {
		t.Errorf("lr at %d, x30 at %d", reg("lr"), reg("x30"))
	}
}
