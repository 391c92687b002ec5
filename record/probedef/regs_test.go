package probedef

import (
	"runtime"
	"strings"
	"testing"
)

// TestArchRegisters checks both register tables through the parser, whatever
// machine runs the test: each architecture accepts its own names (and
// aliases, rewritten to the kernel's spelling) and refuses the other's.
func TestArchRegisters(t *testing.T) {
	x86, arm := ArchFor("amd64"), ArchFor("arm64")
	if x86 == nil || arm == nil {
		t.Fatalf("ArchFor: amd64 %v, arm64 %v", x86, arm)
	}
	tests := []struct {
		arch *Arch
		reg  string
		want string // canonical fetch, "" for an error
	}{
		{x86, "%di", "%di"},
		{x86, "%rdi", "%di"},
		{x86, "%EAX", "%ax"},
		{x86, "%r15", "%r15"},
		{x86, "%orig_ax", "%orig_ax"},
		{x86, "%gs", ""}, // 32-bit kernels only
		{x86, "%x1", ""},
		{x86, "%pc", ""},
		{x86, "%lr", ""},
		{arm, "%x0", "%x0"},
		{arm, "%x1", "%x1"},
		{arm, "%x30", "%x30"},
		{arm, "%X7", "%x7"},
		{arm, "%lr", "%lr"},
		{arm, "%sp", "%sp"},
		{arm, "%pc", "%pc"},
		{arm, "%pstate", "%pstate"},
		{arm, "%x31", ""},
		{arm, "%w0", ""},
		{arm, "%di", ""},
		{arm, "%ax", ""},
		{arm, "%x01", ""},
	}
	for _, tt := range tests {
		def := "p:x do_sys_openat2 v=+0(" + tt.reg + "):u64"
		p, err := ParseArch(def, tt.arch)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%s: %q accepted as %q", tt.arch.GOARCH, tt.reg, p.Args[0].Fetch)
			} else if !strings.Contains(err.Error(), "unknown register") || !strings.Contains(err.Error(), tt.arch.Registers()) {
				t.Errorf("%s: %q: error %q does not name the architecture's registers", tt.arch.GOARCH, tt.reg, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %q: %v", tt.arch.GOARCH, tt.reg, err)
			continue
		}
		if got := p.Args[0].Fetch; got != "+0("+tt.want+")" {
			t.Errorf("%s: %q fetch %q, want +0(%s)", tt.arch.GOARCH, tt.reg, got, tt.want)
		}
	}
}

// TestArchArgRegs: every argument register is a register of its own table,
// and the uprobe $argN hint names the architecture's argument registers.
func TestArchArgRegs(t *testing.T) {
	for _, a := range []*Arch{ArchFor("amd64"), ArchFor("arm64")} {
		for _, r := range append([]string{a.RetReg}, a.ArgRegs...) {
			if k, ok := a.Register(r); !ok || k != r {
				t.Errorf("%s: argument/return register %q is not in the table", a.GOARCH, r)
			}
		}
		_, err := ParseArch("p /bin/sh:0x10 a=$arg1", a)
		if err == nil || !strings.Contains(err.Error(), "%"+a.ArgRegs[0]+" %"+a.ArgRegs[1]) {
			t.Errorf("%s: uprobe $arg1 error %v does not suggest %s", a.GOARCH, err, a.ArgRegs[:2])
		}
	}
}

// TestHostArch: Parse checks registers against the machine it runs on.
func TestHostArch(t *testing.T) {
	want := ArchFor(runtime.GOARCH)
	if want == nil {
		want = ArchFor("amd64")
	}
	if HostArch != want {
		t.Fatalf("HostArch is %s on GOARCH %s", HostArch.GOARCH, runtime.GOARCH)
	}
	reg := "%" + HostArch.ArgRegs[1]
	if _, err := Parse("p:x do_sys_openat2 f=+0(" + reg + "):string"); err != nil {
		t.Errorf("Parse refuses the host's own %s: %v", reg, err)
	}
}
