package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplayPerfettoHostRecording records real syscalls, a uprobe/uretprobe
// pair on libc's open64 and sched_switch on this host with -g, exports the
// trace to Perfetto and decodes it with protobufjs: slices per function must
// be analyze latency's pairs, CPU slices the sched_switch events, instants
// the rest.
func TestReplayPerfettoHostRecording(t *testing.T) {
	recordNeedRoot(t)
	libc := ""
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/aarch64-linux-gnu/libc.so.6", "/lib64/libc.so.6"} {
		if _, err := os.Stat(p); err == nil {
			libc = p
			break
		}
	}
	node, nodeErr := exec.LookPath("node")
	cache := os.Getenv("KPCAP_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "kpcap")
	}
	mods := filepath.Join(cache, "node", "node_modules")
	_, modErr := os.Stat(filepath.Join(mods, "protobufjs"))
	if libc == "" || nodeErr != nil || modErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: need libc (%q), node (%v) and protobufjs in %s (%v); see .ci/run", libc, nodeErr, mods, modErr)
		}
		t.Skipf("need libc (%q), node (%v) and protobufjs in %s (%v)", libc, nodeErr, mods, modErr)
	}
	bin := buildKpcap(t)
	dir := t.TempDir()
	trace := filepath.Join(dir, "host.pcapng.zst")
	_, errs, code := runBin(t, bin, "record", "-q", "-g", "-o", trace,
		"-e", "syscalls:sys_enter_openat", "-e", "syscalls:sys_exit_openat", "-e", "sched:sched_switch",
		"-e", "sched:sched_process_exec",
		"-p", "p:kpcap/libcopen "+libc+":open64", "-p", "r:kpcap/libcopen_ret "+libc+":open64",
		"--", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do cat /etc/hostname /etc/passwd >/dev/null; sleep 0.01; done")
	if code != 0 {
		t.Fatalf("record: code %d: %s", code, errs)
	}
	out := filepath.Join(dir, "host.perfetto-trace")
	_, errs, code = runBin(t, bin, "replay", "-o", out, trace)
	if code != 0 {
		t.Fatalf("replay: code %d: %s", code, errs)
	}

	// What the trace holds, by kpcap's other outputs.
	jsonOut, _, _ := runBin(t, bin, "replay", "--format", "json", trace)
	perProbe := map[string]int64{}
	var events int64
	for _, line := range strings.Split(strings.TrimSpace(jsonOut), "\n") {
		var m struct{ Probe string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		perProbe[m.Probe]++
		events++
	}
	latOut, _, code := runBin(t, bin, "analyze", "latency", "--json", trace)
	if code != 0 {
		t.Fatalf("analyze latency: code %d", code)
	}
	var lat struct {
		Latency []struct {
			Name  string
			Count int64
		}
		UnmatchedEntries int64 `json:"unmatched_entries"`
		UnmatchedReturns int64 `json:"unmatched_returns"`
	}
	if err := json.Unmarshal([]byte(latOut), &lat); err != nil {
		t.Fatal(err)
	}
	var pairs int64
	want := map[string]int64{}
	for _, f := range lat.Latency {
		want[f.Name] = f.Count
		pairs += f.Count
	}
	if want["syscall:openat"] < 20 || want[libc+":open64"] < 20 || perProbe["sched:sched_switch"] == 0 {
		t.Fatalf("recording too thin to check: pairs %v, events %v", want, perProbe)
	}

	// What protobufjs decodes.
	run := t.TempDir()
	if err := os.Symlink(mods, filepath.Join(run, "node_modules")); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("..", "..", "analyze", "testdata", "perfetto", "check_perfetto.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "check.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	schema, _ := filepath.Abs(filepath.Join("..", "..", "analyze", "testdata", "perfetto", "perfetto_subset.proto"))
	cmd := exec.Command(node, filepath.Join(run, "check.mjs"), schema, out)
	cmd.Dir = run
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("protobufjs: %v\n%s", err, b)
	}
	var got struct {
		Slices    map[string]int64
		CPUSlices int64 `json:"cpu_slices"`
		Instants  int64
		Unmatched int64
		Stacks    int64
		MaxDepth  int `json:"max_depth"`
		Errors    []string
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Errors) > 0 {
		t.Fatalf("protobufjs check: %v", got.Errors)
	}
	for name, n := range want {
		if got.Slices[name] != n {
			t.Errorf("%s: %d slices, analyze latency pairs %d", name, got.Slices[name], n)
		}
	}
	if got.CPUSlices != perProbe["sched:sched_switch"] {
		t.Errorf("%d CPU slices for %d sched_switch events", got.CPUSlices, perProbe["sched:sched_switch"])
	}
	if wantInst := events - 2*pairs - perProbe["sched:sched_switch"]; got.Instants != wantInst || got.Unmatched != lat.UnmatchedEntries+lat.UnmatchedReturns {
		t.Errorf("%d instants (%d unmatched), want %d (%d)", got.Instants, got.Unmatched, wantInst, lat.UnmatchedEntries+lat.UnmatchedReturns)
	}
	// openat runs inside open64: the syscall slices nest one level down.
	if got.MaxDepth < 1 || got.Stacks == 0 {
		t.Errorf("max depth %d, %d events with callstacks", got.MaxDepth, got.Stacks)
	}
	t.Logf("%d events: slices %v, %d CPU slices, %d instants, %d with stacks", events, got.Slices, got.CPUSlices, got.Instants, got.Stacks)
}
