//go:build linux

package discover

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/record/internal/tracefs"
)

// openTracefs opens (or mounts) the host's tracefs; that needs root, which
// CI has.
func openTracefs(t *testing.T) *tracefs.FS {
	t.Helper()
	fs, err := tracefs.Open()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return fs
}

// TestReadKernel: the feature verdicts agree with the files they stand for,
// and the event probe check leaves nothing behind.
func TestReadKernel(t *testing.T) {
	fs := openTracefs(t)
	k, err := ReadKernel(&Tracing{Dir: fs.Dir})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"tracepoints": true,
		"kprobe":      fs.HasKprobes(),
		"kretprobe":   fs.HasKprobes(),
		"uprobe":      fs.HasUprobes(),
		"BTF":         exists(kernelBTF),
	}
	for name, w := range want {
		f := k.Feature(name)
		if f == nil {
			t.Errorf("no feature %q", name)
			continue
		}
		if f.Supported != w || f.Detail == "" {
			t.Errorf("%s: supported %v (%s), want %v", name, f.Supported, f.Detail, w)
		}
	}
	if !k.Feature("kprobe").Supported && !strings.Contains(k.Feature("kprobe").Detail, "CONFIG_KPROBE") {
		t.Errorf("the reason for missing kprobes does not name the config: %s", k.Feature("kprobe").Detail)
	}
	if k.Release == "" || k.Machine == "" {
		t.Errorf("release %q machine %q", k.Release, k.Machine)
	}
	b, _ := os.ReadFile(filepath.Join(fs.Dir, "dynamic_events"))
	if strings.Contains(string(b), fs.GroupName(os.Getpid())+"/") {
		t.Errorf("the event probe check left a probe behind:\n%s", b)
	}
}

// TestFunctions lists the host kernel's functions: vfs_read is there, every
// name is a text symbol of /proc/kallsyms, and a glob filters.
func TestFunctions(t *testing.T) {
	fs := openTracefs(t)
	text := map[string]bool{}
	fh, err := os.Open(kallsyms)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && (f[1] == "t" || f[1] == "T") {
			text[f[2]] = true
		}
	}
	fh.Close()
	if !text["vfs_read"] {
		t.Skip("/proc/kallsyms hides symbols (kptr_restrict?)")
	}
	n := 0
	src, err := Functions(&Tracing{Dir: fs.Dir}, "", nil, func(f Function) error {
		n++
		// BPF programs' JIT images (bpf_prog_TAG) come and go with the
		// programs other processes load between the two reads.
		if !text[f.Name] && !strings.HasPrefix(f.Name, "bpf_prog_") {
			t.Errorf("%s is not a text symbol of %s", f.Name, kallsyms)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10000 {
		t.Errorf("%d functions from %s, expected tens of thousands", n, src.From)
	}
	var got []string
	if _, err := Functions(&Tracing{Dir: fs.Dir}, "vfs_rea?", nil, func(f Function) error { got = append(got, f.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "vfs_read" {
		t.Errorf("vfs_rea? matched %v", got)
	}
}

// TestBlacklist reads the kernel's blacklist format.
func TestBlacklist(t *testing.T) {
	p := filepath.Join(t.TempDir(), "blacklist")
	os.WriteFile(p, []byte("0xffffffff81001000-0xffffffff81001040\tdo_int3\n0xffffffffc0001000-0xffffffffc0001010\tmod_fn [mod]\n"), 0o644)
	b, err := readBlacklist(p)
	if err != nil || !b["do_int3"] || !b["mod_fn"] || len(b) != 2 {
		t.Fatalf("blacklist %v, %v", b, err)
	}
	if _, err := readBlacklist(filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "not left out") {
		t.Errorf("missing blacklist: %v", err)
	}
}

// TestTracepoints globs the host's trace events and reads one's fields.
func TestTracepoints(t *testing.T) {
	fs := openTracefs(t)
	tps, err := Tracepoints(&Tracing{Dir: fs.Dir}, "sched:sched_sw*")
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := filepath.Glob(filepath.Join(fs.Dir, "events", "sched", "sched_sw*"))
	if len(tps) != len(ents) || len(tps) == 0 {
		t.Errorf("sched:sched_sw* gave %v, tracefs has %v", tps, ents)
	}
	fields, err := TracepointFormat(&Tracing{Dir: fs.Dir}, "sched:sched_switch")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(fields, "\n"), " next_pid;") {
		t.Errorf("sched_switch fields lack next_pid: %v", fields)
	}
	if _, err := Tracepoints(&Tracing{Dir: fs.Dir}, "nosuchgroup_kpcap:*"); err == nil {
		t.Errorf("a pattern matching nothing succeeded")
	}
}
