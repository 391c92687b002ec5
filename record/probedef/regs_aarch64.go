package probedef

import "strconv"

// archArm64 is arm64: the names of arch/arm64/kernel/ptrace.c's
// regoffset_table, x0..x30, lr (= x30), sp, pc and pstate. The kernel has no
// other spellings; w0..w30 (32-bit views) are not registers of pt_regs.
var archArm64 = func() *Arch {
	a := &Arch{
		GOARCH:  "arm64",
		Machine: "aarch64",
		ArgRegs: []string{"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"},
		RetReg:  "x0",
		regs:    map[string]bool{"lr": true, "sp": true, "pc": true, "pstate": true},
		help:    "arm64: x0..x30, lr, sp, pc, pstate",
	}
	for i := 0; i <= 30; i++ {
		a.regs["x"+strconv.Itoa(i)] = true
	}
	return a
}()
