package probedef

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestResolveBTF translates names into the plain fetch arguments that Linux
// 4.20+ accepts, with offsets checked against pahole's reading of the same BTF.
func TestResolveBTF(t *testing.T) {
	b := hostBTF(t)
	off := func(st, path string) int {
		t.Helper()
		want := 0
		for _, step := range strings.Split(path, ".") {
			ms := pahole(t, b.Source(), st)
			m, ok := ms[step]
			if !ok {
				// inside a named nested struct: look the member up in its type
				t.Fatalf("pahole: struct %s has no %s", st, step)
			}
			want += m.byteOff
			if strings.Contains(path, ".") {
				mem, _ := b.Members("struct " + st)
				for _, x := range mem {
					if x.Name == step {
						st = strings.TrimPrefix(strings.TrimSuffix(x.Type.C, " *"), "struct ")
						st = strings.TrimPrefix(st, "const struct ")
					}
				}
			}
		}
		return want
	}
	fpath := off("file", "f_path")
	dentry := off("path", "dentry")
	dname := off("dentry", "d_name")
	name := off("qstr", "name")
	skbLen := off("sk_buff", "len")
	dport := off("sock_common", "skc_dport")

	tests := []struct {
		def, line string
		ctypes    []string
	}{
		{"p vfs_read file count", "p:g/e vfs_read file=$arg1:x64 count=$arg3:u64", []string{"struct file *", "size_t"}},
		{"p vfs_read $arg*", "p:g/e vfs_read file=$arg1:x64 buf=+0($arg2):string count=$arg3:u64 pos=$arg4:x64", nil},
		{"p vfs_read file->f_path.dentry->d_name.name:string", "p:g/e vfs_read +0(+" + itoa(name+dname) + "(+" + itoa(fpath+dentry) + "($arg1))):string", []string{"const unsigned char *"}},
		{"p vfs_read n=file->f_path.dentry->d_name.name", "p:g/e vfs_read n=+0(+" + itoa(name+dname) + "(+" + itoa(fpath+dentry) + "($arg1))):string", nil},
		{"r vfs_read $retval", "r:g/e vfs_read $retval:s64", []string{"ssize_t"}},
		{"f vfs_read%return $retval", "f:g/e vfs_read%return $retval:s64", nil},
		{"p vfs_read $arg3", "p:g/e vfs_read count=$arg3:u64", nil},
		{"p vfs_read c=$arg3:x32", "p:g/e vfs_read c=$arg3:x32", nil},
		{"t sched_switch prev->pid next->pid", "t:g/e sched_switch +" + itoa(off("task_struct", "pid")) + "($arg2):s32 +" + itoa(off("task_struct", "pid")) + "($arg3):s32", []string{"pid_t", "pid_t"}},
		{"p tcp_sendmsg sk->__sk_common.skc_dport", "p:g/e tcp_sendmsg +" + itoa(dport) + "($arg1):u16", []string{"__be16"}},
		{"p consume_skb skb->len", "p:g/e consume_skb +" + itoa(skbLen) + "($arg1):u32", []string{"unsigned int"}},
		{"p vfs_read file:%pD", "p:g/e vfs_read file=+0(+" + itoa(name+dname) + "(+" + itoa(fpath+dentry) + "($arg1))):string", nil},
		{"e:my/open syscalls.sys_enter_openat name=+0($filename):ustring", "e:g/e syscalls.sys_enter_openat name=+0($filename):ustring", nil},
	}
	for _, tt := range tests {
		p, err := Parse(tt.def)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.def, err)
			continue
		}
		if err := p.ResolveBTF(b); err != nil {
			t.Errorf("ResolveBTF(%q): %v", tt.def, err)
			continue
		}
		if got := p.TracefsLine("g", "e"); got != tt.line {
			t.Errorf("%q translates to\n  %s\nwant\n  %s", tt.def, got, tt.line)
		}
		for i, c := range tt.ctypes {
			if p.Args[i].CType != c {
				t.Errorf("%q arg %d C type %q, want %q", tt.def, i, p.Args[i].CType, c)
			}
		}
		// The translation parses as a plain definition (what Linux 6.1 reads).
		if _, err := Parse(p.TracefsLine("g", "e")); err != nil {
			t.Errorf("translation of %q does not parse: %v", tt.def, err)
		}
	}
}

func TestResolveBTFBitfieldAndEnum(t *testing.T) {
	b := hostBTF(t)
	ms := pahole(t, b.Source(), "sock_common")
	reuse := ms["skc_reuse"]
	p, err := Parse("p tcp_sendmsg sk->__sk_common.skc_reuse sk->__sk_common.skc_reuseport")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ResolveBTF(b); err != nil {
		t.Fatal(err)
	}
	want := "+" + itoa(reuse.byteOff) + "($arg1)"
	if p.Args[0].Fetch != want || p.Args[0].Type != "b"+itoa(reuse.bits)+"@"+itoa(reuse.bitOff)+"/8" {
		t.Errorf("skc_reuse: %s:%s, want %s:b%d@%d/8", p.Args[0].Fetch, p.Args[0].Type, want, reuse.bits, reuse.bitOff)
	}
	rp := ms["skc_reuseport"]
	if p.Args[1].Type != "b1@"+itoa(rp.bitOff)+"/8" {
		t.Errorf("skc_reuseport type %s, want b1@%d/8", p.Args[1].Type, rp.bitOff)
	}
	// An enum keeps its names for replay.
	p, err = Parse("p pid_task pid type")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ResolveBTF(b); err != nil {
		t.Fatal(err)
	}
	if a := p.Args[1]; a.CType != "enum pid_type" || a.Enum[0] != "PIDTYPE_PID" || a.Type != "u32" && a.Type != "s32" {
		t.Errorf("enum arg: %+v", a)
	}
}

func TestResolveBTFErrors(t *testing.T) {
	b := hostBTF(t)
	tests := []struct{ def, caret, msg string }{
		{"p vfs_read nosuch", "           ^~~~~~", "has no argument"},
		{"p vfs_read file->nosuch", "                 ^~~~~~", "has no member"},
		{"p vfs_read count->x", "                  ^", "not a pointer"},
		{"p no_such_func_kpcap x", "                     ^", "not found"},
		{"p vfs_read file->f_path.dentry->d_name.name:u8:string", "", ""},
	}
	for _, tt := range tests {
		p, err := Parse(tt.def)
		if err == nil {
			err = p.ResolveBTF(b)
		}
		if tt.msg == "" {
			if err == nil {
				t.Errorf("%q: no error", tt.def)
			}
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: %v, want a SyntaxError", tt.def, err)
			continue
		}
		lines := strings.Split(se.Error(), "\n")
		if !strings.Contains(se.Msg, tt.msg) || lines[len(lines)-1] != tt.caret {
			t.Errorf("%q:\n%s\nwant caret %q and %q", tt.def, se, tt.caret, tt.msg)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// BenchmarkParseResolve is what names add to a recording's start: load the
// running kernel's BTF, parse and translate a definition with a member path.
func BenchmarkParseResolve(b *testing.B) {
	hostBTF(b)
	for b.Loop() {
		p, err := Parse("p vfs_read file->f_path.dentry->d_name.name:string count")
		if err != nil {
			b.Fatal(err)
		}
		k, err := LoadKernelBTF()
		if err != nil {
			b.Fatal(err)
		}
		if err := p.ResolveBTF(k); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUprobeRefCounter(t *testing.T) {
	p, err := Parse("p:u/sdt /usr/bin/python3:0x1234(0x4010) %di")
	if err != nil {
		t.Fatal(err)
	}
	if p.RefCtr != 0x4010 || p.Offset != 0x1234 || p.UsesPMU() {
		t.Errorf("ref counter probe: %+v, UsesPMU %v", p, p.UsesPMU())
	}
	if got, want := p.TracefsLine("g", "e"), "p:g/e /usr/bin/python3:0x1234(0x4010) %di"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	// The uprobe PMU takes the counter in its config: no fetchargs, no tracefs.
	if p, err = Parse("p /bin/true:0x10(0x20)"); err != nil || !p.UsesPMU() || p.RefCtr != 0x20 {
		t.Errorf("a reference counter without fetchargs goes through the PMU: %v %+v", err, p)
	}
}

// TestResolveBTFArgBeyondPrototype: a kernel whose probe events know BTF
// (6.12 in record/vmtest's btfcheck job) refuses p vfs_read $arg5 with the
// caret under $arg5, and 6.1 accepts it; ResolveBTF follows KernelBTFArgs.
func TestResolveBTFArgBeyondPrototype(t *testing.T) {
	b := hostBTF(t)
	for _, def := range []string{"p vfs_read $arg5", "r vfs_read $arg5:u64", "p vfs_read count $arg9:x32"} {
		p, err := Parse(def)
		if err != nil {
			t.Fatal(err)
		}
		p.KernelBTFArgs = true
		if !p.WantsBTF() {
			t.Errorf("%q: WantsBTF false, so $argN would go unchecked", def)
		}
		err = p.ResolveBTF(b)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q with KernelBTFArgs: %v, want a SyntaxError", def, err)
			continue
		}
		i := strings.Index(def, "$arg")
		if se.Pos != i || se.Len != len("$argN") || !strings.Contains(se.Msg, "vfs_read has 4 arguments") {
			t.Errorf("%q: %s (pos %d len %d), want the caret under %s", def, se, se.Pos, se.Len, def[i:i+5])
		}
		q, _ := Parse(def)
		if err := q.ResolveBTF(b); err != nil {
			t.Errorf("%q without KernelBTFArgs (as 6.1 accepts it): %v", def, err)
		}
	}
	p, _ := Parse("p vfs_read $arg4")
	p.KernelBTFArgs = true
	if err := p.ResolveBTF(b); err != nil {
		t.Errorf("$arg4 of vfs_read: %v", err)
	}
}
