//go:build linux

package tracefs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/kpcap/kpcap/record/internal/elfsym"
	"github.com/kpcap/kpcap/record/probedef"
)

// requireRoot skips tests that write tracefs unless running as root; under CI=true it fails.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root and CI=true is set")
		}
		t.Skip("needs root to write tracefs")
	}
}

// requireFeature skips when the kernel lacks something, except under CI=true.
func requireFeature(t *testing.T, ok bool, what string) {
	t.Helper()
	if !ok {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kernel lacks %s and CI=true is set", what)
		}
		t.Skipf("kernel lacks %s", what)
	}
}

func openFS(t *testing.T) *FS {
	t.Helper()
	requireRoot(t)
	fs, err := Open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return fs
}

func TestCandidates(t *testing.T) {
	mounts := `sysfs /sys sysfs rw,nosuid 0 0
debugfs /sys/kernel/debug debugfs rw 0 0
tracefs /mnt/my\040trace tracefs rw 0 0
tracefs /sys/kernel/tracing tracefs rw,relatime 0 0
bogus
`
	got := candidates(mounts)
	want := []string{"/sys/kernel/tracing", "/mnt/my trace", "/sys/kernel/debug/tracing"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("candidates = %q, want %q", got, want)
	}
	if got := candidates("none /x ext4 rw 0 0\n"); len(got) != 0 {
		t.Fatalf("candidates without tracefs = %q", got)
	}
}

func TestParsers(t *testing.T) {
	for _, c := range []struct {
		line, g, e string
		ok         bool
	}{
		{"p:kpcap_12/e0 do_sys_openat2 filename=+0(%si):string", "kpcap_12", "e0", true},
		{"r16:kpcap_7/e1 vfs_read", "kpcap_7", "e1", true},
		{"p:uprobes/p_bash_0x4 /bin/bash:0x0000000000000004", "uprobes", "p_bash_0x4", true},
		{"garbage", "", "", false},
		{"p:onlyevent foo", "", "", false},
	} {
		g, e, ok := probeGroupEvent(c.line)
		if g != c.g || e != c.e || ok != c.ok {
			t.Errorf("probeGroupEvent(%q) = %q %q %v", c.line, g, e, ok)
		}
	}
	for g, pid := range map[string]int{"kpcap_123": 123, "kpcap_": 0, "kpcap_012": 0, "kpcap_-1": 0, "kprobes": 0, "kpcap_1x": 0} {
		if got := stalePID(g); got != pid {
			t.Errorf("stalePID(%q) = %d, want %d", g, got, pid)
		}
	}
	for s, want := range map[string]int{"config:0": 0, "config:63": 63, "config1:0": -1, "config:64": -1, "config:x": -1} {
		got, err := parseConfigBit(s)
		if (err != nil) != (want < 0) || (want >= 0 && int(got) != want) {
			t.Errorf("parseConfigBit(%q) = %d, %v", s, got, err)
		}
	}
	log := "[  1.0] trace_uprobe: error: A\n  Command: p x\n            ^\n[  2.0] trace_uprobe: error: B\n  Command: p y\n            ^\n"
	if got := lastEntry(log); got != "[  2.0] trace_uprobe: error: B\n  Command: p y\n            ^" {
		t.Errorf("lastEntry = %q", got)
	}
	if lastEntry("") != "" {
		t.Error("lastEntry of empty log")
	}
}

func TestFindAndEvents(t *testing.T) {
	fs := openFS(t)
	if !isTracefs(fs.Dir) {
		t.Fatalf("%s has no events directory", fs.Dir)
	}
	id, err := fs.EventID("sched", "sched_switch")
	if err != nil {
		t.Fatal(err)
	}
	format, err := fs.Format("sched", "sched_switch")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(format, fmt.Sprintf("\nID: %d\n", id)) || !strings.Contains(format, "field:char prev_comm[16]") {
		t.Errorf("format of sched_switch does not match id %d:\n%s", id, format)
	}
	if _, err := fs.EventID("sched", "no_such_event"); err == nil || !strings.Contains(err.Error(), "no such trace event sched:no_such_event") {
		t.Errorf("EventID of a missing event: %v", err)
	}
	// A typo or a wrong group gets the closest names, as Glob does.
	for _, c := range []struct{ group, event, msg string }{
		{"sched", "sched_swich", "did you mean sched:sched_switch"},
		{"syscall", "sys_enter_openat", `(no group "syscall"); did you mean syscalls:sys_enter_openat?`},
		{"shced", "no_such_event", `(no group "shced"); did you mean sched`},
	} {
		if _, err := fs.EventID(c.group, c.event); err == nil || !strings.Contains(err.Error(), c.msg) || !errors.Is(err, ErrNoEvent) {
			t.Errorf("EventID(%s, %s) error = %v, want ErrNoEvent mentioning %q", c.group, c.event, err, c.msg)
		}
		if _, err := fs.Format(c.group, c.event); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Format(%s, %s) error = %v, want one mentioning %q", c.group, c.event, err, c.msg)
		}
	}
	if _, err := fs.Format("../..", "etc"); err == nil || !strings.Contains(err.Error(), "bad group name") {
		t.Errorf("Format with a path-escaping group: %v", err)
	}
}

// availableEvents reads tracing/available_events, an independent listing to check Glob against.
func availableEvents(t *testing.T, fs *FS) []string {
	b, err := os.ReadFile(filepath.Join(fs.Dir, "available_events"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func TestGlob(t *testing.T) {
	fs := openFS(t)
	requireFeature(t, exists(filepath.Join(fs.Dir, "events", "syscalls")), "syscall tracepoints")
	avail := availableEvents(t, fs)
	for _, c := range []struct {
		pattern string
		match   func(string) bool
	}{
		{"syscalls:sys_enter_open*", func(s string) bool { return strings.HasPrefix(s, "syscalls:sys_enter_open") }},
		{"syscalls/sys_exit_read", func(s string) bool { return s == "syscalls:sys_exit_read" }},
		{"*:sched_switch", func(s string) bool { return strings.HasSuffix(s, ":sched_switch") }},
		{"sched_process_e*", func(s string) bool { _, e, _ := strings.Cut(s, ":"); return strings.HasPrefix(e, "sched_process_e") }},
		{"sch?d:*", func(s string) bool { return strings.HasPrefix(s, "sched:") }},
	} {
		got, err := fs.Glob(c.pattern)
		if err != nil {
			t.Errorf("Glob(%q): %v", c.pattern, err)
			continue
		}
		var want []string
		for _, a := range avail {
			if c.match(a) {
				want = append(want, a)
			}
		}
		if len(want) == 0 {
			t.Fatalf("available_events has nothing for %q", c.pattern)
		}
		// available_events omits nothing Glob finds, and vice versa, except events appearing meanwhile.
		wantSorted := append([]string(nil), want...)
		sortStrings(wantSorted)
		if !reflect.DeepEqual(got, wantSorted) {
			t.Errorf("Glob(%q) =\n%q\nwant (from available_events)\n%q", c.pattern, got, wantSorted)
		}
	}
	for _, c := range []struct{ pattern, msg string }{
		{"syscalls:sys_enter_opne*", "sys_enter_open"},
		{"sched:sched_swtch", "sched:sched_switch"},
		{"nosuchgroup_xyz:*", "no trace event group matches"},
		{"shced:*", "did you mean sched?"},
		{"syscalls:sys_enter_opne*", "did you mean syscalls:sys_enter_open, syscalls:sys_enter_open_by_handle_at"},
		{"syscalls:", "bad event pattern"},
		{"syscalls:[", "bad event pattern"},
	} {
		_, err := fs.Glob(c.pattern)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Glob(%q) error = %v, want one mentioning %q", c.pattern, err, c.msg)
		}
	}
	// A malformed glob is the caller's mistake, told apart from a missing event.
	if _, err := fs.Glob("syscalls:sys_enter_["); !errors.Is(err, path.ErrBadPattern) || errors.Is(err, ErrNoEvent) {
		t.Errorf("Glob(syscalls:sys_enter_[) error = %v, want one wrapping path.ErrBadPattern", err)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// listed reports whether uprobe_events lists group/event.
func listed(t *testing.T, fs *FS, file, group, event string) bool {
	b, err := os.ReadFile(filepath.Join(fs.Dir, file))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if g, e, ok := probeGroupEvent(line); ok && g == group && e == event {
			return true
		}
	}
	return false
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// testBinary compiles a tiny C program once and returns it and the file offset of its
// function kpcap_target: a real ELF file to put uprobes on. (go test strips its own binary.)
func testBinary(t *testing.T) (string, uint64) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		requireFeature(t, false, "gcc to build a uprobe target ("+err.Error()+")")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kpcap-tracefs-test")
		if err != nil {
			binErr = err
			return
		}
		src := filepath.Join(dir, "target.c")
		binPath = filepath.Join(dir, "target")
		code := "int __attribute__((noinline)) kpcap_target(int x) { return x * 2; }\nint main(int c, char **v) { (void)v; return kpcap_target(c) - 2; }\n"
		if binErr = os.WriteFile(src, []byte(code), 0o644); binErr != nil {
			return
		}
		if out, err := exec.Command("gcc", "-O0", "-o", binPath, src).CombinedOutput(); err != nil {
			binErr = fmt.Errorf("gcc: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	off, err := elfsym.FileOffset(binPath, "kpcap_target", 0)
	if err != nil {
		t.Fatalf("resolve kpcap_target in %s: %v", binPath, err)
	}
	return binPath, off
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func TestUprobeLifecycle(t *testing.T) {
	fs := openFS(t)
	requireFeature(t, fs.HasUprobes(), "uprobe events")
	exe, off := testBinary(t)
	group := fs.GroupName(os.Getpid())
	if group != fmt.Sprintf("kpcap_%d", os.Getpid()) {
		t.Fatalf("GroupName = %q", group)
	}
	// A probe through the parser: symbol resolution, fetchargs, and the tracefs line.
	p, err := probedef.Parse("p " + exe + ":kpcap_target sp=%sp:x64 word=+0(%sp):u32 c=$comm")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.ResolveUprobe(); err != nil || got != off {
		t.Fatalf("ResolveUprobe = 0x%x, %v; want 0x%x", got, err, off)
	}
	line := p.TracefsLine(group, "t_main")
	if want := fmt.Sprintf("p:%s/t_main %s:0x%x sp=%%sp:x64 word=+0(%%sp):u32 c=$comm", group, exe, off); line != want {
		t.Fatalf("TracefsLine = %q, want %q", line, want)
	}
	if err := fs.AddUprobe(line); err != nil {
		t.Fatalf("AddUprobe: %v", err)
	}
	removed := false
	defer func() {
		if !removed {
			fs.RemoveUprobe(group, "t_main")
		}
	}()
	if !listed(t, fs, "uprobe_events", group, "t_main") {
		t.Fatal("uprobe_events does not list the new probe")
	}
	id, err := fs.EventID(group, "t_main")
	if err != nil || id == 0 {
		t.Fatalf("EventID = %d, %v", id, err)
	}
	format, err := fs.Format(group, "t_main")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: t_main", fmt.Sprintf("ID: %d", id), "__probe_ip", "field:u64 sp;", "sp=0x%Lx", "field:u32 word;", "__data_loc char[] c;"} {
		if !strings.Contains(format, want) {
			t.Errorf("format lacks %q:\n%s", want, format)
		}
	}
	names, err := fs.Glob(group + ":*")
	if err != nil || !reflect.DeepEqual(names, []string{group + ":t_main"}) {
		t.Errorf("Glob(%s:*) = %q, %v", group, names, err)
	}
	// Appending must not disturb other probes: add a second one, remove the first.
	line2 := fmt.Sprintf("r:%s/t_ret %s:0x%x rv=$retval", group, exe, off)
	if err := fs.AddUprobe(line2); err != nil {
		t.Fatalf("AddUprobe(%q): %v", line2, err)
	}
	if err := fs.RemoveUprobe(group, "t_main"); err != nil {
		t.Fatalf("RemoveUprobe: %v", err)
	}
	removed = true
	if listed(t, fs, "uprobe_events", group, "t_main") {
		t.Error("uprobe_events still lists the removed probe")
	}
	if !listed(t, fs, "uprobe_events", group, "t_ret") {
		t.Error("removing one probe removed its neighbour")
	}
	if _, err := fs.EventID(group, "t_main"); err == nil {
		t.Error("EventID still works after removal")
	}
	if err := fs.RemoveUprobe(group, "t_ret"); err != nil {
		t.Fatal(err)
	}
	if err := fs.RemoveUprobe(group, "t_ret"); err == nil || !strings.Contains(err.Error(), "no such probe") {
		t.Errorf("removing twice: %v", err)
	}
}

func TestAddErrorsQuoteKernel(t *testing.T) {
	fs := openFS(t)
	requireFeature(t, fs.HasUprobes(), "uprobe events")
	exe, off := testBinary(t)
	group := fs.GroupName(os.Getpid())
	err := fs.AddUprobe(fmt.Sprintf("p:%s/bad %s:0x%x %%zz", group, exe, off))
	if err == nil {
		fs.RemoveUprobe(group, "bad")
		t.Fatal("the kernel accepted register %zz")
	}
	if !strings.Contains(err.Error(), "kernel says") || !strings.Contains(err.Error(), "%zz") {
		t.Errorf("error does not carry the error_log entry: %v", err)
	}
	if log := fs.ErrorLog(); !strings.Contains(log, "Command: p:"+group+"/bad") {
		t.Errorf("ErrorLog() = %q", log)
	}
	err = fs.AddUprobe(fmt.Sprintf("p:%s/bad /nonexistent/kpcap-test:0x10", group))
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/kpcap-test") {
		t.Errorf("missing file: %v", err)
	}
	for _, line := range []string{"", "p:x/y /bin/true:0x10\n-:x/y", "-:uprobes/foo", "p:x/y /bin/true:0x10 # c"} {
		if err := fs.AddUprobe(line); err == nil {
			t.Errorf("AddUprobe(%q) accepted", line)
		}
	}
	if err := fs.RemoveUprobe("../x", "y"); err == nil {
		t.Error("RemoveUprobe accepted a path-like group")
	}
}

func TestSweepStale(t *testing.T) {
	fs := openFS(t)
	requireFeature(t, fs.HasUprobes(), "uprobe events")
	exe, off := testBinary(t)
	// A pid that just died: run a process and reap it.
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	if alive(dead) {
		t.Skipf("pid %d was reused already", dead)
	}
	deadGroup, liveGroup := fs.GroupName(dead), fs.GroupName(os.Getpid())
	for _, g := range []string{deadGroup, liveGroup} {
		for _, ev := range []string{"s1", "s2"} {
			if err := fs.AddUprobe(fmt.Sprintf("p:%s/%s %s:0x%x", g, ev, exe, off)); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer func() {
		for _, g := range []string{deadGroup, liveGroup} {
			for _, ev := range []string{"s1", "s2"} {
				if listed(t, fs, "uprobe_events", g, ev) {
					fs.RemoveUprobe(g, ev)
				}
			}
		}
	}()
	removed, err := fs.SweepStale()
	if err != nil {
		t.Fatalf("SweepStale: %v", err)
	}
	got := map[string]bool{}
	for _, r := range removed {
		got[r] = true
	}
	for _, ev := range []string{"s1", "s2"} {
		if !got[deadGroup+":"+ev] {
			t.Errorf("SweepStale did not report %s:%s (removed %q)", deadGroup, ev, removed)
		}
		if listed(t, fs, "uprobe_events", deadGroup, ev) {
			t.Errorf("%s/%s survived the sweep", deadGroup, ev)
		}
		if got[liveGroup+":"+ev] || !listed(t, fs, "uprobe_events", liveGroup, ev) {
			t.Errorf("SweepStale removed the live group's %s", ev)
		}
	}
}

func TestKprobeAvailability(t *testing.T) {
	fs := openFS(t)
	has := fs.HasKprobes()
	_, typeErr := PMUType("kprobe")
	if has != (typeErr == nil && exists(filepath.Join(fs.Dir, "kprobe_events"))) {
		t.Errorf("HasKprobes() = %v but PMUType(kprobe) error = %v", has, typeErr)
	}
	if has {
		t.Logf("this kernel has kprobes; the kprobe lifecycle is covered by the VM tests")
		return
	}
	// Without kprobes, adding one must fail with a clear error rather than silently.
	err := fs.AddKprobe("p:" + fs.GroupName(os.Getpid()) + "/k do_sys_openat2")
	if err == nil {
		t.Fatal("AddKprobe succeeded on a kernel without kprobes")
	}
	if !strings.Contains(err.Error(), "no kprobe events") && !strings.Contains(err.Error(), "kernel says") {
		t.Errorf("unclear AddKprobe error: %v", err)
	}
	if typeErr == nil || !strings.Contains(typeErr.Error(), "no kprobe PMU") {
		t.Errorf("PMUType(kprobe) error = %v", typeErr)
	}
}

func TestPMU(t *testing.T) {
	requireFeature(t, exists(filepath.Join(sysBus, "uprobe")), "the uprobe PMU")
	typ, err := PMUType("uprobe")
	if err != nil {
		t.Fatal(err)
	}
	// Dynamic PMUs get types after the fixed ones (PERF_TYPE_MAX = 6).
	if typ < 6 {
		t.Errorf("PMUType(uprobe) = %d, want a dynamic type >= 6", typ)
	}
	b, err := os.ReadFile(filepath.Join(sysBus, "uprobe", "type"))
	if err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(typ) {
		t.Errorf("type file %q vs %d", b, typ)
	}
	bit, err := RetprobeBit("uprobe")
	if err != nil || bit != 0 {
		t.Errorf("RetprobeBit(uprobe) = %d, %v; want 0", bit, err)
	}
	if _, err := PMUType("no_such_pmu"); err == nil || !strings.Contains(err.Error(), "no no_such_pmu PMU") {
		t.Errorf("PMUType(no_such_pmu) = %v", err)
	}
	if _, err := PMUType("../x"); err == nil {
		t.Error("PMUType accepted a path")
	}
	var pe *os.PathError
	if _, err := RetprobeBit("no_such_pmu"); err == nil || !errors.As(err, &pe) {
		t.Errorf("RetprobeBit(no_such_pmu) = %v", err)
	}
}

// TestKernelAcceptsParsedUprobes writes what probedef accepts to the real uprobe_events: the
// parser must not let through what the kernel refuses, nor render lines it cannot read.
func TestKernelAcceptsParsedUprobes(t *testing.T) {
	fs := openFS(t)
	requireFeature(t, fs.HasUprobes(), "uprobe events")
	exe, off := testBinary(t)
	group := fs.GroupName(os.Getpid())
	defs := []string{
		"p BIN:kpcap_target",
		"p BIN:kpcap_target+1",
		"r BIN:kpcap_target",
		"p BIN:kpcap_target%return",
		fmt.Sprintf("p BIN:0x%x", off),
		"p BIN:kpcap_target %di %rsi %eax:u32 %r8 %r15:s16 %flags %ip %sp",
		"p BIN:kpcap_target a=+0(%sp):u8 b=-8(%sp):s32 c=+0(+0(%sp)):x64 d=+u0(%sp):u16",
		"p BIN:kpcap_target s=+0(%di):string us=+0(%di):ustring",
		"p BIN:kpcap_target arr=+0(%sp):u8[8] xs=+0(%sp):x32[2]",
		"p BIN:kpcap_target bf=+0(%sp):b4@0/32 hi=+0(%sp):b1@63/64 mid=+0(%sp):b8@8/16",
		"p BIN:kpcap_target $stack $stack0 $stack5 c=$comm C=$COMM:string",
		`p BIN:kpcap_target i=\42 n=\-7:s32 h=\0x10:x8 s=\"text"`,
		"p BIN:kpcap_target f=@+0x10:u32 arg1=%si %di $stack100000",
		"p BIN:kpcap_target c=+0(%sp):char[4] c1=%di:char",
		"r BIN:kpcap_target rv=$retval rs=$retval:s32",
		"p BIN:kpcap_target " + strings.TrimSpace(strings.Repeat("%di ", 128)),
	}
	// And what it rejects, the kernel rejects too (checked by writing the raw line).
	bad := []string{
		"%zz", "$retval", "a=+0(%sp):b4@30/32", "a=+0(%sp):u8[65]", "a=+0(%sp", "a=%di a=%si",
		"$arg1", "@sym", "a=%di:string", "a=$comm:u32", "a=%di:u8[2]", "+0($comm)", "1a=%di",
		"common_pid=%di", "a=+0(%sp):b4@0/24", "%si arg1=%di", "a=%di:u33",
	}
	for i, d := range defs {
		def := strings.ReplaceAll(d, "BIN", exe)
		p, err := probedef.Parse(def)
		if err != nil {
			t.Errorf("Parse(%q): %v", def, err)
			continue
		}
		event := fmt.Sprintf("acc%d", i)
		if err := fs.AddUprobe(p.TracefsLine(group, event)); err != nil {
			t.Errorf("kernel refused %q:\n%v", def, err)
			continue
		}
		id, err := fs.EventID(group, event)
		if err != nil || id == 0 {
			t.Errorf("EventID after %q: %d %v", def, id, err)
		}
		if err := fs.RemoveUprobe(group, event); err != nil {
			t.Errorf("RemoveUprobe: %v", err)
		}
	}
	for i, a := range bad {
		def := fmt.Sprintf("p %s:0x%x %s", exe, off, a)
		if _, err := probedef.Parse(def); err == nil {
			t.Errorf("Parse accepted %q", def)
		}
		event := fmt.Sprintf("rej%d", i)
		if err := fs.AddUprobe(fmt.Sprintf("p:%s/%s %s:0x%x %s", group, event, exe, off, a)); err == nil {
			fs.RemoveUprobe(group, event)
			t.Errorf("the kernel accepted %q, which probedef rejects", a)
		}
	}
}

// TestFindUnprivileged checks the error an ordinary user gets (needs root to drop to nobody).
func TestFindUnprivileged(t *testing.T) {
	if os.Getenv("KPCAP_TRACEFS_CHILD") == "1" {
		_, err := Find()
		fmt.Println("RESULT:", err)
		return
	}
	requireRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		requireFeature(t, false, "setpriv")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", exe, "-test.run=^TestFindUnprivileged$")
	cmd.Env = append(os.Environ(), "KPCAP_TRACEFS_CHILD=1")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "RESULT: tracefs at") || !strings.Contains(string(out), "needs root") {
		t.Errorf("unprivileged Find: %s", out)
	}
}
