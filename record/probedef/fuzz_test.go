package probedef

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"p do_sys_openat2",
		"p:x do_sys_openat2 filename=+0(%si):string",
		"r100:g/e vfs_read+0 ret=$retval:s64",
		"p vfs_read+0x10 %rax %eax:u32 +8(-16(+0(%di))):x32",
		"p 0xffffffff81000000",
		"p:ev ext4:ext4_file_open $arg1 $arg2:x64 $comm",
		`p:k/e do_exit \"hello" \-5:s32 @jiffies+8:u32 @0x1000:u8[4] $stack3 +u0(%di):ustring`,
		"p tcp_sendmsg flags=+8(%di):b4@0/32 s=%si:symstr",
		"r /bin/bash:0x4f3a0 $retval",
		"p ./a.out:main+4 %di @+0x2000:u32",
		"p /opt/app:0x10%return",
		"p:x do_sys_openat2 +0(%si",
		"r4097 vfs_read",
		"p:x f a=%si:b4@30/32",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, def string) {
		p, err := Parse(def)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *SyntaxError", err)
			}
			if se.Pos < 0 || se.Pos > len(def) || se.Len < 1 {
				t.Fatalf("bad error span %d+%d in %q", se.Pos, se.Len, def)
			}
			if n := strings.Count(err.Error(), "\n"); n != 2 {
				t.Fatalf("error has %d line breaks, want 2:\n%s", n, err)
			}
			return
		}
		if p.IsUprobe() != (p.Path != "") {
			t.Fatalf("uprobe without path or path on a kprobe: %+v", p)
		}
		_ = p.Name()
		_ = p.Target()
		if !p.IsUprobe() {
			// Uprobe lines may open files to resolve symbols: keep the fuzzer off the disk.
			line := p.TracefsLine("kpcap_1", "e")
			if strings.ContainsAny(line, "\n#") {
				t.Fatalf("tracefs line %q could inject commands", line)
			}
		}
		checkRoundTrip(t, p)
	})
}
