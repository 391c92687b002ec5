package usdt

import (
	"strings"
	"testing"
)

func TestParseArgSpecs(t *testing.T) {
	for _, c := range []struct {
		arch, spec string
		fetch      []string // Fetch():Type() of each argument
	}{
		{"amd64", "8@%rbp 8@%r12 -4@%eax", []string{"%bp:u64", "%r12:u64", "%ax:s32"}},
		{"amd64", "-4@%edi 8@-16(%rbp) 8@%rax -4@$5", []string{"%di:s32", "-16(%bp):u64", "%ax:u64", `\5:s32`}},
		{"amd64", "-4@112(%rsp) 1@%r8b 2@%si 8@(%rdx) -8@$-3", []string{"+112(%sp):s32", "%r8:u8", "%si:u16", "+0(%dx):u64", `\-3:s64`}},
		{"arm64", "8@[sp, 16] -4@w1 8@x0 8@[x19] -4@5", []string{"+16(%sp):u64", "%x1:s32", "%x0:u64", "+0(%x19):u64", `\5:s32`}},
		{"arm64", "8@[x29, -8] 8@sp", []string{"-8(%x29):u64", "%sp:u64"}},
		{"amd64", "", nil},
	} {
		got, err := ParseArgSpecs(c.spec, c.arch)
		if err != nil {
			t.Errorf("%s %q: %v", c.arch, c.spec, err)
			continue
		}
		var fs []string
		for _, a := range got {
			fs = append(fs, a.Fetch()+":"+a.Type())
		}
		if strings.Join(fs, " ") != strings.Join(c.fetch, " ") {
			t.Errorf("%s %q: %v, want %v", c.arch, c.spec, fs, c.fetch)
		}
	}
	a, _ := ParseArgSpecs("8@-16(%rbp) 8@%rdi -4@$1", "amd64")
	if d, ok := a[0].Deref(); !ok || d != "+0(-16(%bp))" {
		t.Errorf("deref of memory: %q", d)
	}
	if d, ok := a[1].Deref(); !ok || d != "+0(%di)" {
		t.Errorf("deref of register: %q", d)
	}
	if _, ok := a[2].Deref(); ok {
		t.Error("an immediate dereferenced")
	}
	for _, c := range []struct{ arch, spec, want string }{
		{"amd64", "3@%rax", "size"},
		{"amd64", "8%rax", "SIZE@"},
		{"amd64", "8@%foo", "unknown register"},
		{"amd64", "8@0(%rax,%rbx,8)", "indexed"},
		{"amd64", "8@sym(%rip)", "RIP-relative"},
		{"amd64", "8@$x", "not a number"},
		{"arm64", "8@[q0, 4]", "unknown register"},
		{"arm64", "8@[sp, 4", "unterminated"},
		{"riscv64", "8@a0", "not supported"},
		{"amd64", strings.Repeat("8@%rax ", 13), "at most 12"},
	} {
		if _, err := ParseArgSpecs(c.spec, c.arch); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v, want an error saying %q", c.arch, c.spec, err, c.want)
		}
	}
}

// FuzzParseArgSpecs: hostile argument strings never panic, and what parses
// renders to fetch arguments of a known type.
func FuzzParseArgSpecs(f *testing.F) {
	for _, s := range []string{"8@%rbp 8@%r12 -4@%eax", "-4@$5 8@-16(%rbp)", "8@[sp, 16] -4@w1", "1@%al"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, spec string, arm bool) {
		arch := "amd64"
		if arm {
			arch = "arm64"
		}
		args, err := ParseArgSpecs(spec, arch)
		if err != nil {
			return
		}
		for _, a := range args {
			if a.Size != 1 && a.Size != 2 && a.Size != 4 && a.Size != 8 || a.Fetch() == "" {
				t.Fatalf("%q: bad argument %+v", spec, a)
			}
		}
	})
}
