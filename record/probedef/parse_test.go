package probedef

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/record/internal/elfsym"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		def  string
		want Probe // Def and Raw are filled in by the test
		name string
		tgt  string
		line string // TracefsLine("kpcap_1", "e0")
		pmu  bool
	}{
		{
			def:  "p do_sys_openat2",
			want: Probe{Kind: KindKprobe, Symbol: "do_sys_openat2"},
			name: "kprobes:p_do_sys_openat2_0", tgt: "do_sys_openat2",
			line: "p:kpcap_1/e0 do_sys_openat2", pmu: true,
		},
		{
			def:  "p:x do_sys_openat2 filename=+0(%si):string",
			want: Probe{Kind: KindKprobe, Event: "x", Symbol: "do_sys_openat2", Args: []FetchArg{{Name: "filename", Fetch: "+0(%si)", Type: "string"}}},
			name: "kprobes:x", tgt: "do_sys_openat2",
			line: "p:kpcap_1/e0 do_sys_openat2 filename=+0(%si):string",
		},
		{
			def:  "r:grp/ev do_sys_openat2 $retval",
			want: Probe{Kind: KindKretprobe, Group: "grp", Event: "ev", Symbol: "do_sys_openat2", Args: []FetchArg{{Fetch: "$retval"}}},
			name: "grp:ev", tgt: "do_sys_openat2", line: "r:kpcap_1/e0 do_sys_openat2 $retval",
		},
		{
			def:  "r vfs_read",
			want: Probe{Kind: KindKretprobe, Symbol: "vfs_read"},
			name: "kprobes:r_vfs_read_0", tgt: "vfs_read", line: "r:kpcap_1/e0 vfs_read", pmu: true,
		},
		{
			def:  "r100 vfs_read+0 ret=$retval:s64",
			want: Probe{Kind: KindKretprobe, Symbol: "vfs_read", MaxActive: 100, Args: []FetchArg{{Name: "ret", Fetch: "$retval", Type: "s64"}}},
			name: "kprobes:r_vfs_read_0", tgt: "vfs_read", line: "r100:kpcap_1/e0 vfs_read ret=$retval:s64",
		},
		{
			def:  "r4096:e vfs_read",
			want: Probe{Kind: KindKretprobe, Event: "e", Symbol: "vfs_read", MaxActive: 4096},
			name: "kprobes:e", tgt: "vfs_read", line: "r4096:kpcap_1/e0 vfs_read",
		},
		{
			def:  "p vfs_read%return",
			want: Probe{Kind: KindKretprobe, Symbol: "vfs_read"},
			name: "kprobes:r_vfs_read_0", tgt: "vfs_read", line: "r:kpcap_1/e0 vfs_read", pmu: true,
		},
		{
			def: "p\tvfs_read+0x10   %rax  %eax:u32 +8(-16(+0(%di))):x32 ",
			want: Probe{Kind: KindKprobe, Symbol: "vfs_read", Offset: 16, Args: []FetchArg{
				{Fetch: "%ax"}, {Fetch: "%ax", Type: "u32"}, {Fetch: "+8(-16(+0(%di)))", Type: "x32"}}},
			name: "kprobes:p_vfs_read_16", tgt: "vfs_read+0x10",
			line: "p:kpcap_1/e0 vfs_read+0x10 %ax %ax:u32 +8(-16(+0(%di))):x32",
		},
		{
			def:  "p 0xffffffff81000000",
			want: Probe{Kind: KindKprobe, Addr: 0xffffffff81000000},
			name: "kprobes:p_0xffffffff81000000", tgt: "0xffffffff81000000",
			line: "p:kpcap_1/e0 0xffffffff81000000", pmu: true,
		},
		{
			def: "p:ev ext4:ext4_file_open $arg1 $arg2:x64 $comm cm=$COMM:string",
			want: Probe{Kind: KindKprobe, Event: "ev", Module: "ext4", Symbol: "ext4_file_open", Args: []FetchArg{
				{Fetch: "$arg1"}, {Fetch: "$arg2", Type: "x64"}, {Fetch: "$comm"}, {Name: "cm", Fetch: "$COMM", Type: "string"}}},
			name: "kprobes:ev", tgt: "ext4:ext4_file_open",
			line: "p:kpcap_1/e0 ext4:ext4_file_open $arg1 $arg2:x64 $comm cm=$COMM:string",
		},
		{
			def:  "p nf_conntrack:nf_ct_delete.part.0+4",
			want: Probe{Kind: KindKprobe, Module: "nf_conntrack", Symbol: "nf_ct_delete.part.0", Offset: 4},
			name: "kprobes:p_nf_conntrack_nf_ct_delete_part_0_4", tgt: "nf_conntrack:nf_ct_delete.part.0+0x4",
			line: "p:kpcap_1/e0 nf_conntrack:nf_ct_delete.part.0+0x4", pmu: true,
		},
		{
			def: `p:k/e do_exit \"hello" \-5:s32 \0x10 @jiffies:u64 @jiffies+8:u32 @0x1000:u8[4] $stack $stack3 +u0(%di):ustring`,
			want: Probe{Kind: KindKprobe, Group: "k", Event: "e", Symbol: "do_exit", Args: []FetchArg{
				{Fetch: `\"hello"`}, {Fetch: `\-5`, Type: "s32"}, {Fetch: `\0x10`}, {Fetch: "@jiffies", Type: "u64"},
				{Fetch: "@jiffies+8", Type: "u32"}, {Fetch: "@0x1000", Type: "u8[4]"}, {Fetch: "$stack"}, {Fetch: "$stack3"},
				{Fetch: "+u0(%di)", Type: "ustring"}}},
			name: "k:e", tgt: "do_exit",
			line: `p:kpcap_1/e0 do_exit \"hello" \-5:s32 \0x10 @jiffies:u64 @jiffies+8:u32 @0x1000:u8[4] $stack $stack3 +u0(%di):ustring`,
		},
		{
			def: "p tcp_sendmsg flags=+8(%di):b4@0/32 hi=+8(%di):b1@63/64 s=%si:symbol ss=%si:symstr a=+0(%si):x16[8] f=%flags ip=%ip o=%orig_ax",
			want: Probe{Kind: KindKprobe, Symbol: "tcp_sendmsg", Args: []FetchArg{
				{Name: "flags", Fetch: "+8(%di)", Type: "b4@0/32"}, {Name: "hi", Fetch: "+8(%di)", Type: "b1@63/64"},
				{Name: "s", Fetch: "%si", Type: "symbol"}, {Name: "ss", Fetch: "%si", Type: "symstr"},
				{Name: "a", Fetch: "+0(%si)", Type: "x16[8]"}, {Name: "f", Fetch: "%flags"}, {Name: "ip", Fetch: "%ip"}, {Name: "o", Fetch: "%orig_ax"}}},
			name: "kprobes:p_tcp_sendmsg_0", tgt: "tcp_sendmsg",
			line: "p:kpcap_1/e0 tcp_sendmsg flags=+8(%di):b4@0/32 hi=+8(%di):b1@63/64 s=%si:symbol ss=%si:symstr a=+0(%si):x16[8] f=%flags ip=%ip o=%orig_ax",
		},
		{
			def:  "p /bin/bash:0x4f3a0",
			want: Probe{Kind: KindUprobe, Path: "/bin/bash", Offset: 0x4f3a0},
			name: "uprobes:p_bash_0x4f3a0", tgt: "/bin/bash:0x4f3a0", line: "p:kpcap_1/e0 /bin/bash:0x4f3a0", pmu: true,
		},
		{
			def:  "r:u/ret /usr/lib/x86_64-linux-gnu/libc.so.6:1234 $retval:s32 %ax",
			want: Probe{Kind: KindUretprobe, Group: "u", Event: "ret", Path: "/usr/lib/x86_64-linux-gnu/libc.so.6", Offset: 1234, Args: []FetchArg{{Fetch: "$retval", Type: "s32"}, {Fetch: "%ax"}}},
			name: "u:ret", tgt: "/usr/lib/x86_64-linux-gnu/libc.so.6:0x4d2",
			line: "r:kpcap_1/e0 /usr/lib/x86_64-linux-gnu/libc.so.6:0x4d2 $retval:s32 %ax",
		},
		{
			def:  "p /opt/my-app:0x10%return",
			want: Probe{Kind: KindUretprobe, Path: "/opt/my-app", Offset: 0x10},
			name: "uprobes:r_my_0x10", tgt: "/opt/my-app:0x10", line: "r:kpcap_1/e0 /opt/my-app:0x10", pmu: true,
		},
		{
			def:  "p ./no-such-binary:main+4 %di @+0x2000:u32 s=+0(%si):string",
			want: Probe{Kind: KindUprobe, Path: "./no-such-binary", Symbol: "main", Offset: 4, Args: []FetchArg{{Fetch: "%di"}, {Fetch: "@+0x2000", Type: "u32"}, {Name: "s", Fetch: "+0(%si)", Type: "string"}}},
			name: "uprobes:p_no_main_0x4", tgt: "./no-such-binary:main+0x4",
			// Unresolvable symbols stay symbolic (the kernel then rejects the line).
			line: "p:kpcap_1/e0 ./no-such-binary:main+0x4 %di @+0x2000:u32 s=+0(%si):string",
		},
		{
			def:  "p /srv/weird:path:0x10",
			want: Probe{Kind: KindUprobe, Path: "/srv/weird:path", Offset: 0x10},
			name: "uprobes:p_weird_path_0x10", tgt: "/srv/weird:path:0x10", line: "p:kpcap_1/e0 /srv/weird:path:0x10", pmu: true,
		},
		{
			def:  "p /usr/bin/app:main.(*Server).Serve",
			want: Probe{Kind: KindUprobe, Path: "/usr/bin/app", Symbol: "main.(*Server).Serve"},
			name: "uprobes:p_app_main___Server__Serve", tgt: "/usr/bin/app:main.(*Server).Serve",
			line: "p:kpcap_1/e0 /usr/bin/app:main.(*Server).Serve", pmu: true,
		},
		{
			def:  "p:a_1/B_2 f arg3=%di %si",
			want: Probe{Kind: KindKprobe, Group: "a_1", Event: "B_2", Symbol: "f", Args: []FetchArg{{Name: "arg3", Fetch: "%di"}, {Fetch: "%si"}}},
			name: "a_1:B_2", tgt: "f", line: "p:kpcap_1/e0 f arg3=%di %si",
		},
		{
			// The kernel names unnamed arguments by position: arg1 then a default arg2 do not clash.
			def:  "p /bin/sh:0x10 arg1=%si %di $stack100000 c=+0(%sp):char[4] c1=%di:char",
			want: Probe{Kind: KindUprobe, Path: "/bin/sh", Offset: 0x10, Args: []FetchArg{{Name: "arg1", Fetch: "%si"}, {Fetch: "%di"}, {Fetch: "$stack100000"}, {Name: "c", Fetch: "+0(%sp)", Type: "char[4]"}, {Name: "c1", Fetch: "%di", Type: "char"}}},
			name: "uprobes:p_sh_0x10", tgt: "/bin/sh:0x10", line: "p:kpcap_1/e0 /bin/sh:0x10 arg1=%si %di $stack100000 c=+0(%sp):char[4] c1=%di:char",
		},
	}
	for _, tc := range tests {
		t.Run(tc.def, func(t *testing.T) {
			p, err := Parse(tc.def)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tc.want
			want.Def = tc.def
			got := *p
			got.Args = stripRaw(got.Args)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tc.def, got, want)
			}
			for i, a := range p.Args {
				if !strings.Contains(tc.def, a.Raw) || a.Raw == "" {
					t.Errorf("arg %d Raw %q not in the definition", i, a.Raw)
				}
			}
			if n := p.Name(); n != tc.name {
				t.Errorf("Name() = %q, want %q", n, tc.name)
			}
			if g := p.Target(); g != tc.tgt {
				t.Errorf("Target() = %q, want %q", g, tc.tgt)
			}
			if l := p.TracefsLine("kpcap_1", "e0"); l != tc.line {
				t.Errorf("TracefsLine = %q\n                 want %q", l, tc.line)
			}
			if p.UsesPMU() != tc.pmu {
				t.Errorf("UsesPMU() = %v, want %v", p.UsesPMU(), tc.pmu)
			}
			checkRoundTrip(t, p)
		})
	}
}

func stripRaw(args []FetchArg) []FetchArg {
	out := make([]FetchArg, len(args))
	for i, a := range args {
		a.Raw, a.pos = "", 0
		out[i] = a
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// checkRoundTrip asserts that String re-renders p to a definition parsing to the same Probe.
func checkRoundTrip(t *testing.T, p *Probe) {
	t.Helper()
	s := p.String()
	q, err := Parse(s)
	if err != nil {
		t.Fatalf("re-rendered %q (from %q) does not parse: %v", s, p.Def, err)
	}
	a, b := *p, *q
	a.Def, b.Def = "", ""
	a.Args, b.Args = stripRaw(a.Args), stripRaw(b.Args)
	a.resolved, b.resolved, a.fileOff, b.fileOff = false, false, 0, 0
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("round trip changed the probe:\n def %q\n str %q\n got %+v\nwant %+v", p.Def, s, b, a)
	}
}

func TestParseInvalid(t *testing.T) {
	// caret is the expected last line of the error: spaces, then ^~~ under the bad token.
	tests := []struct {
		def, caret, msg string
	}{
		{"", "^", "empty definition"},
		{"   ", "^", "empty definition"},
		{"x do_sys_open", "^", "must start with p"},
		{"-:kprobes/foo", "^", "deletes a probe"},
		{"p:x", "   ^", "missing probe target"},
		{"p:x   ", "   ^", "missing probe target"},
		{"p", " ^", "missing probe target"},
		{"p4:x do_sys_openat2", " ^", "maxactive is only allowed on return probes"},
		{"r0:x vfs_read", " ^", "maxactive must be 1..4096"},
		{"r4097 vfs_read", " ^~~~", "maxactive must be 1..4096"},
		{"r1x:e vfs_read", " ^~", "bad maxactive"},
		{"rx:e vfs_read", " ^", "expected ':'"},
		{"r5 /bin/sh:0x10", " ^", "maxactive is not supported for uretprobes"},
		{"p: vfs_read", "  ^", "missing event name"},
		{"p:g/ vfs_read", "    ^", "missing event name after '/'"},
		{"p:/e vfs_read", "  ^", "empty group name"},
		{"p:1bad vfs_read", "  ^~~~", "bad event name"},
		{"p:my-grp/e vfs_read", "  ^~~~~~", "bad group name"},
		{"p:g/e.v vfs_read", "    ^~~", "bad event name"},
		{"p:" + strings.Repeat("e", 64) + " f", "  ^" + strings.Repeat("~", 63), "longer than 63"},
		{"p vfs_read-4", "  ^~~~~~~~~~", "negative offset"},
		{"p vfs_read+zz", "  ^~~~~~~~~~~", "bad offset"},
		{"p vfs_read+", "  ^~~~~~~~~", "bad offset"},
		{"r vfs_read+8", "  ^~~~~~~~~~", "return probe must be at the function entry"},
		{"r vfs_read%return", "          ^~~~~~~", "%return on an r probe"},
		{"p vfs_read%ret", "          ^~~~", "unknown suffix"},
		{"p 0xffffffff8100000g", "  ^~~~~~~~~~~~~~~~~~", "bad address"},
		{"p 0xffffffff81000000+4", "                    ^~", "address probe takes no offset"},
		{"p 99999999999999999999999", "  ^~~~~~~~~~~~~~~~~~~~~~~", "bad address"},
		{"p :vfs_read", "  ^", "empty module name"},
		{"p ext4:", "      ^", "missing symbol after module"},
		{"p ex*t:f", "  ^~~~", "bad module name"},
		{"p vfs$read", "     ^", "bad character"},
		{"p usr/bin/bash:main", "  ^~~~~~~~~~~~~~~~~", "must start with / or ./"},
		{"p +4", "  ^", "missing symbol"},
		{"p /bin/bash", "  ^~~~~~~~~", "needs PATH:OFFSET or PATH:SYMBOL"},
		{"p /bin/bash:", "           ^", "missing offset or symbol"},
		{"p /bin/bash:0x1g", "            ^~~~", "bad offset"},
		{"p /bin/bash:0x10(0x2z)", "                 ^~~~", "bad reference counter offset"},
		{"p /bin/bash:main+x", "                ^~", "bad offset"},
		{"r /bin/bash:main+4", "                ^~", "return probe must be at the function entry"},
		{"p /bin/:0x10", "  ^~~~~", "directory"},
		{"p /bin/bash:+4", "            ^", "missing symbol"},
		{"p:x do_sys_openat2 filename=+0(%xi):string", "                               ^~~", "unknown register \"%xi\""},
		{"p:x do_sys_openat2 %", "                   ^", "unknown register"},
		{"p:x do_sys_openat2 $retval", "                   ^~~~~~~", "$retval only exists in return probes"},
		{"p:x do_sys_openat2 a=$retval:s32", "                     ^~~~~~~", "$retval only exists"},
		{"p:x do_sys_openat2 +0(%si", "                         ^", "unbalanced parentheses"},
		{"p:x do_sys_openat2 +0(+8(%si)", "                            ^", "unbalanced parentheses"},
		{"p:x do_sys_openat2 +0%si)", "                   ^~~~~~", "a dereference needs (FETCHARG)"},
		{"p:x do_sys_openat2 +0(%si))", "                      ^~~~", "unknown register"},
		{"p:x do_sys_openat2 (%si)", "                   ^", "unbalanced parentheses"},
		{"p:x do_sys_openat2 +0()", "                     ^~", "empty parentheses"},
		{"p:x do_sys_openat2 +(%si)", "                   ^~~~~~", "missing offset"},
		{"p:x do_sys_openat2 +0x1z(%si)", "                   ^~~~~~~~~~", "bad number"},
		{"p:x do_sys_openat2 +8(+08(%si))", "                      ^~~~~~~~", "bad number"},
		{"p:x do_sys_openat2 +0($comm)", "                      ^~~~~", "cannot be dereferenced"},
		{"p:x do_sys_openat2 +0(%si):", "                          ^", "missing type"},
		{"p:x do_sys_openat2 a=%si:u33", "                         ^~~", "unknown type \"u33\""},
		{"p:x do_sys_openat2 a=%si:int", "                         ^~~", "unknown type"},
		{"p:x do_sys_openat2 a=%si:string", "                         ^~~~~~", "string needs a memory fetch"},
		{"p:x do_sys_openat2 a=$comm:u32", "                           ^~~", "must be string"},
		{"p:x do_sys_openat2 a=%si:b4@30/32", "                         ^~~~~~~~", "exceeds its 32-bit container"},
		{"p:x do_sys_openat2 a=%si:b4@0/24", "                         ^~~~~~~", "container size"},
		{"p:x do_sys_openat2 a=%si:b0@0/8", "                         ^~~~~~", "bitfield width"},
		{"p:x do_sys_openat2 a=%si:b4@x/8", "                         ^~~~~~", "bitfield offset"},
		{"p:x do_sys_openat2 a=%si:b4", "                         ^~", "bad bitfield"},
		{"p:x do_sys_openat2 a=+0(%si):b4@0/8[2]", "                             ^~~~~~~~~", "bitfield arrays"},
		{"p:x do_sys_openat2 a=+0(%si):u8[0]", "                                ^", "bad array length"},
		{"p:x do_sys_openat2 a=+0(%si):u8[65]", "                                ^~", "more than the kernel's 64"},
		{"p:x do_sys_openat2 a=+0(%si):u8[4", "                                 ^", "unclosed array"},
		{"p:x do_sys_openat2 a=%si:u8[4]", "                           ^~~", "arrays need a memory fetch"},
		{"p:x do_sys_openat2 a=+0(%si):[4]", "                             ^", "missing type"},
		{"p:x do_sys_openat2 a=%si b=%di a=%dx", "                               ^", "duplicate argument name \"a\""},
		{"p:x do_sys_openat2 %si arg1=%di", "                       ^~~~", "duplicate argument name \"arg1\""},
		{"p:x do_sys_openat2 arg2=%di %si", "                            ^~~", "named arg2 by default"},
		{"p:x do_sys_openat2 1a=%di", "                   ^~", "bad argument name"},
		{"p:x do_sys_openat2 =%di", "                   ^", "empty argument name"},
		{"p:x do_sys_openat2 a=", "                     ^", "missing fetch argument"},
		{"p:x do_sys_openat2 common_pid=%di", "                   ^~~~~~~~~~", "reserved"},
		{"p:x do_sys_openat2 @", "                   ^", "missing address or symbol"},
		{"p:x do_sys_openat2 @0x1q", "                   ^~~~~", "bad address"},
		{"p:x do_sys_openat2 @+0x10", "                   ^~~~~~", "only works in uprobes"},
		{"p:x do_sys_openat2 @jiffies+z", "                           ^~", "bad offset"},
		{"p:x do_sys_openat2 @ji/ffies", "                    ^~~~~~~~", "bad symbol"},
		{"p /bin/sh:0x10 @main", "               ^~~~~", "only works in kprobes"},
		{"p:x do_sys_openat2 $stack4097", "                   ^~~~~~~~~~", "bad stack slot"},
		{"p:x do_sys_openat2 $stackx", "                   ^~~~~~~", "bad stack slot"},
		{"p:x do_sys_openat2 $arg0", "                   ^~~~~", "bad argument number"},
		{"p:x do_sys_openat2+4 $arg1", "                     ^~~~~", "function entry"},
		{"p:x 0xffffffff81000000 $arg1", "                       ^~~~~", "function entry"},
		{"p /bin/sh:0x10 $arg1", "               ^~~~~", "only works in kprobes"},
		{"p:x do_sys_openat2 $foo", "                   ^~~~", "unknown variable"},
		{"p:x do_sys_openat2 \\", "                    ^", "bad immediate"},
		{"p:x do_sys_openat2 \\0x1z", "                    ^~~~", "bad immediate"},
		{`p:x do_sys_openat2 \"abc`, "                        ^", "unterminated immediate string"},
		{`p:x do_sys_openat2 \"`, "                     ^", "unterminated immediate string"},
		{`p:x do_sys_openat2 \"a"b"`, "                      ^", "inside an immediate string"},
		{"p:x do_sys_openat2 42", "                   ^~", "bare number"},
		{"p:x do_sys_openat2+4 skb->len", "                     ^~~~~~~~", "argument names (BTF) do not work"},
		{"p:x do_sys_openat2 a=" + strings.Repeat("+0(", 15) + "%si" + strings.Repeat(")", 15) + ":string", "                     ^" + strings.Repeat("~", 15*4+3+7-1), "argument too long"},
		{"p:x do_sys_openat2 # comment", "                   ^", "comment"},
		{"p:x do_sys_openat2\n-:kprobes/x", "                  ^", "line break"},
		{"p:x do_sys_openat2 \x01", "                   ^", "control character"},
		{"p:x do_sys_openat2" + strings.Repeat(" %si", 129), strings.Repeat(" ", 18+128*4+1) + "^~~", "too many arguments"},
		{"p:x\tf\t%zz", "   \t \t^~~", "unknown register"},
		{"p:é/x f", "  ^", "bad group name"},
	}
	for _, tc := range tests {
		t.Run(tc.def, func(t *testing.T) {
			p, err := Parse(tc.def)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tc.def, p)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *SyntaxError: %v", err, err)
			}
			msg := err.Error()
			lines := strings.Split(msg, "\n")
			if len(lines) != 3 {
				t.Fatalf("error has %d lines, want 3:\n%s", len(lines), msg)
			}
			if !strings.HasPrefix(msg, "bad probe ") {
				t.Errorf("error does not start with `bad probe`: %s", msg)
			}
			if !strings.Contains(lines[0], tc.msg) {
				t.Errorf("message %q does not contain %q", lines[0], tc.msg)
			}
			if caret := lines[len(lines)-1]; caret != tc.caret {
				t.Errorf("caret line mismatch for %q (%s)\n got %q\nwant %q\n%s", tc.def, se.Msg, caret, tc.caret, msg)
			}
		})
	}
}

func TestArgLimit(t *testing.T) {
	def := "p:x f" + strings.Repeat(" %si", 128)
	p, err := Parse(def)
	if err != nil {
		t.Fatalf("128 args must parse: %v", err)
	}
	if len(p.Args) != 128 {
		t.Fatalf("got %d args", len(p.Args))
	}
}

func TestSyntaxErrorRendering(t *testing.T) {
	e := &SyntaxError{Def: "p f %zz", Pos: 4, Len: 3, Msg: "unknown register"}
	want := "bad probe \"p f %zz\": unknown register\np f %zz\n    ^~~"
	if e.Error() != want {
		t.Fatalf("got\n%s\nwant\n%s", e.Error(), want)
	}
	// Out-of-range positions are clamped rather than panicking.
	e = &SyntaxError{Def: "p", Pos: 10, Len: 5, Msg: "m"}
	if got := e.Error(); !strings.HasSuffix(got, "\np\n ^") {
		t.Fatalf("clamped rendering: %q", got)
	}
}

func TestKindString(t *testing.T) {
	for k, s := range map[Kind]string{KindKprobe: "kprobe", KindKretprobe: "kretprobe", KindUprobe: "uprobe", KindUretprobe: "uretprobe", Kind(9): "Kind(9)"} {
		if k.String() != s {
			t.Errorf("%d: %q", int(k), k.String())
		}
	}
}

func TestDocExamples(t *testing.T) {
	for _, def := range []string{
		"p:open do_sys_openat2 dfd=%di filename=+0(%si):string flags=+0(%dx):x64",
		"r:open_ret do_sys_openat2 ret=$retval:s64",
		"r64 tcp_sendmsg",
		"p ext4:ext4_file_open",
		"p /usr/bin/bash:readline",
		"r /usr/lib/x86_64-linux-gnu/libc.so.6:malloc ptr=$retval:x64",
	} {
		if _, err := Parse(def); err != nil {
			t.Errorf("doc example does not parse: %v", err)
		}
	}
}

func TestPMUTarget(t *testing.T) {
	for _, c := range []struct {
		def  string
		name string
		off  uint64
	}{
		{"p do_sys_openat2+4", "do_sys_openat2", 4},
		{"r ext4:ext4_file_open", "ext4:ext4_file_open", 0},
		{"p 0xffffffff81000000", "", 0xffffffff81000000},
		{"r /bin/x:0x1234", "/bin/x", 0x1234},
	} {
		p, err := Parse(c.def)
		if err != nil {
			t.Fatal(err)
		}
		name, off, err := p.PMUTarget()
		if err != nil || name != c.name || off != c.off {
			t.Errorf("PMUTarget(%q) = %q, 0x%x, %v; want %q, 0x%x", c.def, name, off, err, c.name, c.off)
		}
	}
	p, err := Parse("p /nonexistent/kpcap:main")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.PMUTarget(); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("PMUTarget of a missing binary: %v", err)
	}
	if _, err := (&Probe{Kind: KindKprobe, Def: "p f"}).ResolveUprobe(); err == nil {
		t.Error("ResolveUprobe on a kprobe succeeded")
	}
}

func TestResolveUprobe(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("gcc is required under CI: %v", err)
		}
		t.Skipf("gcc not installed: %v", err)
	}
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "t.c"), filepath.Join(dir, "t")
	code := "int __attribute__((noinline)) kpcap_fn(int x) { return x + 1; }\nint main(int c, char **v) { (void)v; return kpcap_fn(c); }\n"
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-O0", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	want, err := elfsym.FileOffset(bin, "kpcap_fn", 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("p:g/e " + bin + ":kpcap_fn+1 %di")
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.ResolveUprobe()
	if err != nil || got != want {
		t.Fatalf("ResolveUprobe = 0x%x, %v; want 0x%x", got, err, want)
	}
	if line, w := p.TracefsLine("kpcap_9", "e1"), fmt.Sprintf("p:kpcap_9/e1 %s:0x%x %%di", bin, want); line != w {
		t.Errorf("TracefsLine = %q, want %q", line, w)
	}
	// The definition keeps its symbol; only the tracefs line carries the number.
	if s := p.String(); s != "p:g/e "+bin+":kpcap_fn+0x1 %di" {
		t.Errorf("String = %q", s)
	}
	p, _ = Parse("p " + bin + ":kpcap_fnn")
	if _, err := p.ResolveUprobe(); err == nil || !strings.Contains(err.Error(), "did you mean kpcap_fn") {
		t.Errorf("unknown symbol: %v", err)
	}
}

func BenchmarkParse(b *testing.B) {
	def := "p:kpcap/open do_sys_openat2 dfd=%di:s32 filename=+0(%si):string flags=+0(%dx):x64 mode=+8(%dx):b4@0/32 c=$comm"
	b.SetBytes(int64(len(def)))
	for b.Loop() {
		if _, err := Parse(def); err != nil {
			b.Fatal(err)
		}
	}
}
