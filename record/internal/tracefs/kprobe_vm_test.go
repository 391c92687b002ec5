//go:build linux && kpcapvm

package tracefs

import (
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/record/probedef"
)

// kallsymsAddr returns the address of a kernel symbol, or 0 when hidden (kptr_restrict).
func kallsymsAddr(t *testing.T, sym string) uint64 {
	b, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[2] == sym {
			var v uint64
			fmt.Sscanf(f[0], "%x", &v)
			return v
		}
	}
	return 0
}

// TestKprobeLifecycle exercises kprobe_events with what probedef accepts. It is built only
// with the kpcapvm tag: record/vmtest compiles this package's tests statically with it and
// runs them inside Debian kernels that have kprobes (the development and CI hosts do not).
func TestKprobeLifecycle(t *testing.T) {
	fs := openFS(t)
	if !fs.HasKprobes() {
		t.Fatal("kernel has no kprobes (CONFIG_KPROBES off): this test is meant for the kprobe VMs of record/vmtest")
	}
	group := fs.GroupName(os.Getpid())
	typ, err := PMUType("kprobe")
	if err != nil || typ < 6 {
		t.Errorf("PMUType(kprobe) = %d, %v", typ, err)
	}
	if bit, err := RetprobeBit("kprobe"); err != nil || bit != 0 {
		t.Errorf("RetprobeBit(kprobe) = %d, %v", bit, err)
	}
	defs := []string{
		"p do_sys_openat2",
		"p do_sys_openat2+0 dfd=%di:s32 filename=+0(%si):string flags=+0(%dx):x64",
		"r do_sys_openat2 ret=$retval:s64",
		"r64 do_sys_openat2 $retval",
		"p do_sys_openat2%return rv=$retval",
		"p do_sys_openat2 $arg1 $arg2:x64 $arg3",
		"p do_sys_openat2 j=@jiffies:u64 j2=@jiffies+8:u32 $comm c=$COMM:string $stack $stack0 $stack5",
		"p do_sys_openat2 s=+0(%si):ustring u=+u0(%si):u8 bf=+0(%dx):b4@0/32 arr=+0(%dx):u8[8]",
		`p do_sys_openat2 sym=%ip:symbol i=\42 n=\-7:s32 str=\"text" +8(+0(%rdx)):x16 %eax:u32`,
		"p do_sys_openat2 " + strings.TrimSpace(strings.Repeat("%di ", 128)),
	}
	if a := kallsymsAddr(t, "do_sys_openat2"); a != 0 {
		defs = append(defs, fmt.Sprintf("p 0x%x", a))
	}
	for i, def := range defs {
		p, err := probedef.Parse(def)
		if err != nil {
			t.Errorf("Parse(%q): %v", def, err)
			continue
		}
		event := fmt.Sprintf("k%d", i)
		line := p.TracefsLine(group, event)
		if err := fs.AddKprobe(line); err != nil {
			t.Errorf("kernel refused %q:\n%v", line, err)
			continue
		}
		format, err := fs.Format(group, event)
		if err != nil {
			t.Error(err)
		}
		want := "__probe_ip"
		if p.IsReturn() {
			want = "__probe_ret_ip"
		}
		if !strings.Contains(format, want) {
			t.Errorf("format of %q lacks %s:\n%s", line, want, format)
		}
		if id, err := fs.EventID(group, event); err != nil || id == 0 {
			t.Errorf("EventID: %d %v", id, err)
		}
		if err := fs.RemoveKprobe(group, event); err != nil {
			t.Errorf("RemoveKprobe: %v", err)
		}
	}
	// Features that depend on the kernel version: report, do not assert.
	for i, def := range []string{"r do_sys_openat2 $arg1", "p do_sys_openat2 s=%si:symstr", "p do_sys_openat2 c=+0(%si):char[4]", "p ext4:ext4_file_open"} {
		p, err := probedef.Parse(def)
		if err != nil {
			t.Errorf("Parse(%q): %v", def, err)
			continue
		}
		event := fmt.Sprintf("v%d", i)
		if err := fs.AddKprobe(p.TracefsLine(group, event)); err != nil {
			t.Logf("this kernel refuses %q: %v", def, err)
			continue
		}
		t.Logf("this kernel accepts %q", def)
		fs.RemoveKprobe(group, event)
	}
	// What probedef rejects, the kernel rejects too.
	for i, def := range []string{
		"p do_sys_openat2 $retval", "p do_sys_openat2 %zz", "p do_sys_openat2 a=%di:u33",
		"p do_sys_openat2 a=+0(%si):b4@30/32", "p do_sys_openat2 @+0x10", "p do_sys_openat2 a=%di a=%si",
		"p do_sys_openat2 a=%di:string", "r0 do_sys_openat2", "r5000 do_sys_openat2",
		"p no_such_function_kpcap", "p do_sys_openat2 +0($comm)",
	} {
		_, perr := probedef.Parse(def)
		head, rest, _ := strings.Cut(def, " ")
		raw := fmt.Sprintf("%s:%s/r%d %s", head, group, i, rest)
		kerr := fs.AddKprobe(raw)
		if kerr == nil {
			fs.RemoveKprobe(group, fmt.Sprintf("r%d", i))
		}
		if def == "p no_such_function_kpcap" {
			// Unknown symbols are the kernel's to judge; the parser cannot know them.
			if perr != nil || kerr == nil || !strings.Contains(kerr.Error(), "kernel says") {
				t.Errorf("unknown symbol: parse %v, kernel %v", perr, kerr)
			}
			continue
		}
		if perr == nil || kerr == nil {
			t.Errorf("%q: parser error %v, kernel error %v: both must refuse", def, perr, kerr)
		}
	}
	// A probe of a dead kpcap is swept; the live group stays.
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run /bin/true for a dead pid: %v", err)
	}
	dead := fs.GroupName(cmd.Process.Pid)
	if err := fs.AddKprobe("p:" + dead + "/s do_sys_openat2 %di"); err != nil {
		t.Fatal(err)
	}
	if err := fs.AddKprobe("p:" + group + "/live do_sys_openat2"); err != nil {
		t.Fatal(err)
	}
	defer fs.RemoveKprobe(group, "live")
	removed, err := fs.SweepStale()
	if err != nil || !reflect.DeepEqual(removed, []string{dead + ":s"}) {
		t.Errorf("SweepStale = %q, %v; want [%s:s]", removed, err, dead)
	}
	if listed(t, fs, "kprobe_events", dead, "s") || !listed(t, fs, "kprobe_events", group, "live") {
		t.Error("SweepStale removed the wrong kprobes")
	}
}
