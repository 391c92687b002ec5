//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// buildC compiles a C program for the test.
func buildC(t *testing.T, code string) string {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		needFile(t, "/usr/bin/gcc")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "prog.c")
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "prog")
	if out, err := exec.Command(cc, "-O1", "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return exe
}

// TestProbeGlobUprobes attaches entry and return probes to every work_*
// function of a program calling them 3, 5 and 7 times: one source per
// function and kind, exact counts, and latency ranks the three functions.
func TestProbeGlobUprobes(t *testing.T) {
	recordNeedRoot(t)
	exe := buildC(t, `
__attribute__((noinline)) int work_a(int x) { __asm__ volatile(""); return x + 1; }
__attribute__((noinline)) int work_b(int x) { __asm__ volatile(""); return x + 2; }
__attribute__((noinline)) int work_c(int x) { __asm__ volatile(""); return x + 3; }
int main(void) {
	int s = 0;
	for (int i = 0; i < 3; i++) s += work_a(i);
	for (int i = 0; i < 5; i++) s += work_b(i);
	for (int i = 0; i < 7; i++) s += work_c(i);
	return s == 0;
}
`)
	bin := buildKpcap(t)
	out := filepath.Join(t.TempDir(), "glob.pcapng.zst")
	recordDone(t, bin, "-o", out, "-p", "p "+exe+":work_*", "-p", "r "+exe+":work_*", "--", exe)
	got := countProbes(t, bin, out)
	want := map[string]int{"uprobes:work_a": 3, "uprobes:work_a__return": 3, "uprobes:work_b": 5, "uprobes:work_b__return": 5, "uprobes:work_c": 7, "uprobes:work_c__return": 7}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", got, want)
	}
	lout, err := exec.Command(bin, "analyze", "latency", "--json", out).Output()
	if err != nil {
		t.Fatalf("latency: %v", err)
	}
	var lat struct {
		Latency []struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"latency"`
	}
	if err := json.Unmarshal(lout, &lat); err != nil {
		t.Fatal(err)
	}
	var fns []string
	for _, f := range lat.Latency {
		fns = append(fns, fmt.Sprintf("%s=%d", strings.TrimPrefix(f.Name, exe+":"), f.Count))
	}
	if len(fns) != 3 {
		t.Errorf("latency functions %v, want work_a=3 work_b=5 work_c=7", fns)
	}
	for _, f := range []string{"work_a=3", "work_b=5", "work_c=7"} {
		if !strings.Contains(strings.Join(fns, " "), f) {
			t.Errorf("latency functions %v, want %s", fns, f)
		}
	}
}

// TestProbeGlob500 attaches 500 functions of a program that calls each
// once, with fetchargs (so through tracefs, the slow path): 500 sources of
// exactly one event, the time it took reported, every probe removed after;
// --max-probes below the match count refuses with the count, and a pattern
// matching nothing says so.
func TestProbeGlob500(t *testing.T) {
	recordNeedRoot(t)
	var b strings.Builder
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&b, "__attribute__((noinline)) int fn_%03d(int x) { __asm__ volatile(\"\"); return x + %d; }\n", i, i)
	}
	b.WriteString("int main(void) { int s = 0;\n")
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&b, "s += fn_%03d(%d);\n", i, i)
	}
	b.WriteString("return s == 0; }\n")
	exe := buildC(t, b.String())
	bin := buildKpcap(t)
	out := filepath.Join(t.TempDir(), "500.pcapng.zst")
	cmd := exec.Command(bin, "record", "-o", out, "-p", "p "+exe+":fn_* x=%di:s32", "--", exe)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("record: %v\n%s", err, msg)
	}
	m := regexp.MustCompile(`500 probes created in ([0-9.]+)s`).FindSubmatch(msg)
	if m == nil {
		t.Errorf("no attach time reported:\n%s", msg)
	} else {
		t.Logf("attached 500 uprobes with fetchargs through tracefs in %ss", m[1])
	}
	got := countProbes(t, bin, out)
	if len(got) != 500 {
		t.Errorf("%d sources with events, want 500", len(got))
	}
	for i := 0; i < 500; i++ {
		if n := got[fmt.Sprintf("uprobes:fn_%03d", i)]; n != 1 {
			t.Errorf("fn_%03d: %d events, want 1", i, n)
		}
	}
	// This test's binary only: other runs on the machine probe their own fn_*.
	if b, _ := os.ReadFile("/sys/kernel/tracing/uprobe_events"); strings.Contains(string(b), exe+":") {
		t.Errorf("probes left behind:\n%.500s", b)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-probes", "100", "-p", "p " + exe + ":fn_*"}, "--max-probes 100: probe \"p " + exe + ":fn_*\": the pattern matches 500 functions, more than 100: narrow it, or raise the limit"},
		{[]string{"-p", "p " + exe + ":nothing_*"}, "matched no function"},
		{[]string{"-p", "p:mine " + exe + ":fn_*"}, "leave out :EVENT"},
	} {
		msg, err := exec.Command(bin, append([]string{"record", "-o", filepath.Join(t.TempDir(), "x"), "-d", "1"}, c.args...)...).CombinedOutput()
		if exitCode(err) != 2 || !strings.Contains(string(msg), c.want) {
			t.Errorf("record %v: exit %d, %s; want 2 and %q", c.args, exitCode(err), msg, c.want)
		}
	}
}
