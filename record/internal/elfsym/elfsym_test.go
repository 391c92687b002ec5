package elfsym

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// requireTool skips when a build tool is missing, except under CI=true where it fails.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
}

const mainC = `
#include <stdio.h>
int helper_a(void);
int helper_b(void);
/* marker starts with bytes the test can find in the file: ud2 then a tag. */
__attribute__((naked, noinline)) void marker(void) {
	__asm__(".byte 0x0f, 0x0b\n.ascii \"KPCAPMARK\"\n");
}
__attribute__((noinline)) int add(int a, int b) { return a + b; }
int main(int argc, char **argv) {
	(void)argv;
	if (argc > 5) marker();
	printf("%d\n", add(argc, 2) + helper_a() + helper_b());
	return 0;
}
`

// Two translation units with the same static function name make an ambiguous symbol.
const helperA = `static int __attribute__((noinline)) helper(void) { return 1; } int helper_a(void) { return helper(); }`
const helperB = `static int __attribute__((noinline)) helper(void) { return 2; } int helper_b(void) { return helper() + 1; }`

const libC = `
__attribute__((naked, noinline)) void lib_marker(void) {
	__asm__(".byte 0x0f, 0x0b\n.ascii \"KPCAPMARK\"\n");
}
int lib_add(int a, int b) { return a + b; }
`

var (
	buildOnce sync.Once
	built     map[string]string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// build compiles the test programs once and returns their paths by name.
func build(t *testing.T) map[string]string {
	t.Helper()
	requireTool(t, "gcc")
	requireTool(t, "strip")
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "kpcap-elfsym-test")
		if buildErr == nil {
			built, buildErr = compile(buildDir)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func compile(dir string) (map[string]string, error) {
	for name, src := range map[string]string{"main.c": mainC, "a.c": helperA, "b.c": helperB, "lib.c": libC} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			return nil, err
		}
	}
	out := map[string]string{
		"pie":    filepath.Join(dir, "pie"),
		"nopie":  filepath.Join(dir, "nopie"),
		"lib":    filepath.Join(dir, "libt.so"),
		"stripd": filepath.Join(dir, "libt-stripped.so"),
	}
	for _, args := range [][]string{
		{"gcc", "-O0", "-g0", "-fPIE", "-pie", "-o", out["pie"], "main.c", "a.c", "b.c"},
		{"gcc", "-O0", "-g0", "-fno-pie", "-no-pie", "-o", out["nopie"], "main.c", "a.c", "b.c"},
		{"gcc", "-O0", "-shared", "-fPIC", "-o", out["lib"], "lib.c"},
		{"cp", out["lib"], out["stripd"]},
		{"strip", "--strip-all", out["stripd"]},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	return out, nil
}

type nmSym struct {
	name  string
	value uint64
}

// nmFuncs lists text symbols as nm prints them (dynamic ones with -D).
func nmFuncs(t *testing.T, path string, dynamic bool) []nmSym {
	t.Helper()
	requireTool(t, "nm")
	args := []string{"--defined-only"}
	if dynamic {
		args = append(args, "-D")
	}
	b, err := exec.Command("nm", append(args, path)...).Output()
	if err != nil {
		t.Fatalf("nm %s: %v", path, err)
	}
	var syms []nmSym
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || (f[1] != "T" && f[1] != "t") {
			continue
		}
		v, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			t.Fatalf("nm line %q: %v", line, err)
		}
		syms = append(syms, nmSym{f[2], v})
	}
	if len(syms) == 0 {
		t.Fatalf("nm found no text symbols in %s", path)
	}
	return syms
}

type loadSeg struct{ off, vaddr, filesz uint64 }

// readelfLoads parses the PT_LOAD lines of `readelf -lW`.
func readelfLoads(t *testing.T, path string) []loadSeg {
	t.Helper()
	requireTool(t, "readelf")
	b, err := exec.Command("readelf", "-lW", path).Output()
	if err != nil {
		t.Fatalf("readelf %s: %v", path, err)
	}
	var segs []loadSeg
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != "LOAD" {
			continue
		}
		var n [4]uint64
		for i := 0; i < 4; i++ {
			n[i], err = strconv.ParseUint(strings.TrimPrefix(f[1+i], "0x"), 16, 64)
			if err != nil {
				t.Fatalf("readelf line %q: %v", line, err)
			}
		}
		segs = append(segs, loadSeg{off: n[0], vaddr: n[1], filesz: n[3]})
	}
	return segs
}

func expectedOffset(t *testing.T, segs []loadSeg, v uint64) uint64 {
	t.Helper()
	for _, s := range segs {
		if v >= s.vaddr && v < s.vaddr+s.filesz {
			return v - s.vaddr + s.off
		}
	}
	t.Fatalf("no LOAD segment holds 0x%x", v)
	return 0
}

func TestFileOffsetMatchesNmAndReadelf(t *testing.T) {
	bins := build(t)
	for _, tc := range []struct {
		bin     string
		dynamic bool
		want    []string
	}{
		{"pie", false, []string{"main", "marker", "add", "helper_a", "helper_b"}},
		{"nopie", false, []string{"main", "marker", "add", "helper_a", "helper_b"}},
		{"lib", false, []string{"lib_marker", "lib_add"}},
		{"stripd", true, []string{"lib_marker", "lib_add"}},
	} {
		t.Run(tc.bin, func(t *testing.T) {
			path := bins[tc.bin]
			syms := nmFuncs(t, path, tc.dynamic)
			segs := readelfLoads(t, path)
			found := map[string]bool{}
			for _, s := range syms {
				if s.name == "helper" {
					continue // ambiguous, tested below
				}
				got, err := FileOffset(path, s.name, 0)
				if err != nil {
					t.Errorf("FileOffset(%s): %v", s.name, err)
					continue
				}
				if want := expectedOffset(t, segs, s.value); got != want {
					t.Errorf("FileOffset(%s) = 0x%x, want 0x%x (nm value 0x%x)", s.name, got, want, s.value)
				}
				found[s.name] = true
			}
			for _, n := range tc.want {
				if !found[n] {
					t.Errorf("nm did not list %s (or it failed)", n)
				}
			}
		})
	}
}

// TestFileOffsetPointsAtCode checks the offset independently: the file's bytes there are the marker's code.
func TestFileOffsetPointsAtCode(t *testing.T) {
	bins := build(t)
	for _, c := range []struct{ bin, sym string }{{"pie", "marker"}, {"nopie", "marker"}, {"lib", "lib_marker"}, {"stripd", "lib_marker"}} {
		data, err := os.ReadFile(bins[c.bin])
		if err != nil {
			t.Fatal(err)
		}
		want := append([]byte{0x0f, 0x0b}, "KPCAPMARK"...)
		off, err := FileOffset(bins[c.bin], c.sym, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.bin, err)
		}
		if off+uint64(len(want)) > uint64(len(data)) || !bytes.Equal(data[off:off+uint64(len(want))], want) {
			t.Errorf("%s: bytes at 0x%x are not the marker", c.bin, off)
		}
		if i := bytes.Index(data, want); uint64(i) != off {
			t.Errorf("%s: marker is at 0x%x in the file, FileOffset said 0x%x", c.bin, i, off)
		}
		off2, err := FileOffset(bins[c.bin], c.sym, 2)
		if err != nil || off2 != off+2 {
			t.Errorf("%s: FileOffset(+2) = 0x%x, %v; want 0x%x", c.bin, off2, err, off+2)
		}
		tab, err := Load(bins[c.bin])
		if err != nil {
			t.Fatal(err)
		}
		for d := uint64(0); d < 11; d++ {
			name, o, ok := tab.Lookup(off + d)
			if !ok || name != c.sym || o != d {
				t.Errorf("%s: Lookup(0x%x) = %q+%d %v, want %s+%d", c.bin, off+d, name, o, ok, c.sym, d)
			}
		}
	}
}

func TestFileOffsetErrors(t *testing.T) {
	bins := build(t)
	dir := t.TempDir()
	text := filepath.Join(dir, "notelf")
	if err := os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, sym string
		off       uint64
		is        error
		msg       []string
	}{
		{filepath.Join(dir, "missing"), "main", 0, nil, []string{"no such file"}},
		{dir, "main", 0, nil, []string{"not a regular file"}},
		{text, "main", 0, nil, []string{"not an ELF binary"}},
		{bins["pie"], "markr", 0, ErrNotFound, []string{`symbol not found "markr"`, "did you mean", "marker"}},
		{bins["pie"], "helper_c", 0, ErrNotFound, []string{"helper_a", "helper_b"}},
		{bins["pie"], "helper", 0, ErrAmbiguous, []string{"defined 2 times", "PATH:OFFSET"}},
		{bins["pie"], "add", 0x100000, nil, []string{"beyond the end of add"}},
		{bins["stripd"], "marker_lib", 0, ErrNotFound, []string{"symbol not found"}},
	}
	for _, tc := range tests {
		_, err := FileOffset(tc.path, tc.sym, tc.off)
		if err == nil {
			t.Errorf("FileOffset(%s, %s) succeeded", tc.path, tc.sym)
			continue
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("FileOffset(%s): %v is not %v", tc.sym, err, tc.is)
		}
		for _, m := range tc.msg {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("FileOffset(%s, %s): %q does not mention %q", filepath.Base(tc.path), tc.sym, err, m)
			}
		}
	}
	if _, err := Load(text); err == nil || !strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("Load(text) = %v", err)
	}
}

// TestLookupAgreesWithNm symbolizes every nm text symbol's address back to its name.
func TestLookupAgreesWithNm(t *testing.T) {
	bins := build(t)
	path := bins["pie"]
	tab, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	segs := readelfLoads(t, path)
	for _, s := range nmFuncs(t, path, false) {
		off := expectedOffset(t, segs, s.value)
		name, o, ok := tab.Lookup(off)
		if !ok || o != 0 {
			t.Errorf("Lookup(0x%x) for %s = %q+%d %v", off, s.name, name, o, ok)
			continue
		}
		if name != s.name {
			// Aliases share an address; accept any nm name at the same value.
			alias := false
			for _, s2 := range nmFuncs(t, path, false) {
				alias = alias || (s2.value == s.value && s2.name == name)
			}
			if !alias {
				t.Errorf("Lookup(0x%x) = %q, want %q", off, name, s.name)
			}
		}
	}
	if _, _, ok := tab.Lookup(0); ok {
		t.Errorf("Lookup(0) (the ELF header) found a function")
	}
	if _, _, ok := tab.Lookup(1 << 40); ok {
		t.Errorf("Lookup beyond the file found a function")
	}
}

// FuzzParse feeds arbitrary bytes as an ELF file: errors are fine, panics are not.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("/bin/true"); err == nil {
		f.Add(b[:min(len(b), 8192)])
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := parse(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		if tab, err := newTable(ef, "fuzz"); err == nil {
			tab.Lookup(0x1000)
			tab.LookupVaddr(0x401000)
		}
		_, _ = fileOffset(ef, "fuzz", "main", 0)
	})
}

// BenchmarkLookup symbolizes addresses spread over libc, as user-stack symbolization does.
func BenchmarkLookup(b *testing.B) {
	const libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
	tab, err := Load(libc)
	if err != nil {
		b.Skipf("no libc to benchmark with: %v", err)
	}
	var offs []uint64
	for _, s := range tab.syms {
		for _, seg := range tab.segs {
			if s.Value >= seg.vaddr && s.Value-seg.vaddr < seg.filesz {
				offs = append(offs, s.Value-seg.vaddr+seg.off+s.Size/2)
			}
		}
	}
	if len(offs) == 0 {
		b.Skip("libc has no symbols")
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		tab.Lookup(offs[i%len(offs)])
		i++
	}
}

func BenchmarkLoadLibc(b *testing.B) {
	const libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
	if _, err := os.Stat(libc); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := Load(libc); err != nil {
			b.Fatal(err)
		}
	}
}
