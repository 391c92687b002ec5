package analyze

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/replay"
)

// jsCounts is what testdata/perfetto/check_perfetto.mjs prints.
type jsCounts struct {
	Packets   int            `json:"packets"`
	Clock     int            `json:"clock"`
	Primary   int            `json:"primary"`
	Slices    map[string]int `json:"slices"`
	CPUSlices int64          `json:"cpu_slices"`
	Instants  int64          `json:"instants"`
	Unmatched int64          `json:"unmatched"`
	Counters  int64          `json:"counters"`
	Stacks    int64          `json:"stacks"`
	MaxDepth  int            `json:"max_depth"`
	Errors    []string       `json:"errors"`
}

// perfettoNode returns node and a directory whose node_modules holds
// protobufjs (installed by .ci/run), skipping (failing under CI) without.
func perfettoNode(t *testing.T) (node, dir string) {
	t.Helper()
	fail := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %s (see .ci/run)", why)
		}
		t.Skip(why)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		fail("node is needed to check the Perfetto export with protobufjs")
	}
	cache := os.Getenv("KPCAP_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "kpcap")
	}
	mods := filepath.Join(cache, "node", "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "protobufjs")); err != nil {
		fail("protobufjs is needed in " + mods)
	}
	// ES modules ignore NODE_PATH: run the script beside a node_modules link.
	dir = t.TempDir()
	if err := os.Symlink(mods, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("testdata", "perfetto", "check_perfetto.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "check_perfetto.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	return node, dir
}

func jsCheck(t *testing.T, node, dir string, data []byte) jsCounts {
	t.Helper()
	p := filepath.Join(dir, "t.perfetto-trace")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	schema, err := filepath.Abs(filepath.Join("testdata", "perfetto", "perfetto_subset.proto"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(dir, "check_perfetto.mjs"), schema, p)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("protobufjs check: %v\n%s", err, out)
	}
	var c jsCounts
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("protobufjs check output %q: %v", out, err)
	}
	return c
}

// TestPerfettoProtobufJS decodes the export with protobufjs against a schema
// written from Perfetto's protos and compares its slices, instants and
// callstacks with what the trace holds and analyze latency pairs.
func TestPerfettoProtobufJS(t *testing.T) {
	node, dir := perfettoNode(t)
	traces := map[string]string{
		"6.1":       filepath.Join("..", "testdata", "kernels", "openat-6.1.pcapng.zst"),
		"6.12":      filepath.Join("..", "testdata", "kernels", "openat-6.12.pcapng.zst"),
		"synthetic": testtrace.Openat(t, filepath.Join(t.TempDir(), "o.pcapng.zst"), "6.18.0", "", 300, 1, 5),
	}
	for name, p := range traces {
		t.Run(name, func(t *testing.T) {
			exp := expectOf(t, p, replay.Options{}, LatencyOptions{})
			data, res, _ := exportPerfetto(t, p, replay.Options{}, PerfettoOptions{})
			c := jsCheck(t, node, dir, data)
			if len(c.Errors) > 0 {
				t.Fatalf("protobufjs check: %v", c.Errors)
			}
			if c.Clock != pfClockMonotonic || c.Primary != pfClockMonotonic {
				t.Errorf("clock %d primary %d", c.Clock, c.Primary)
			}
			for _, f := range exp.Latency.Functions {
				if uint64(c.Slices[f.Name]) != f.Count {
					t.Errorf("%s: protobufjs sees %d slices, latency pairs %d", f.Name, c.Slices[f.Name], f.Count)
				}
			}
			var slices int64
			for _, n := range c.Slices {
				slices += int64(n)
			}
			if slices != exp.Pairs || c.CPUSlices != exp.SchedSwitch || c.Instants != exp.Instants ||
				c.Unmatched != exp.Unmatched || c.Stacks != exp.Stacks || c.Counters != res.Counters {
				t.Errorf("protobufjs: %+v; trace: %+v; export %+v", c, exp, res)
			}
			if name == "synthetic" && c.MaxDepth != 2 {
				t.Errorf("max depth %d, want 2 (uprobe recursion inside openat)", c.MaxDepth)
			}
			t.Logf("%s: %d packets, %d slices, %d instants (%d unmatched), %d stacks, %d counters", name, c.Packets, slices, c.Instants, c.Unmatched, c.Stacks, c.Counters)
		})
	}
	// The check can fail: an end without its begin is reported.
	data, _, _ := exportPerfetto(t, traces["synthetic"], replay.Options{}, PerfettoOptions{})
	broken := append([]byte(nil), data...)
	d, err := pfDecode(broken)
	if err != nil {
		t.Fatal(err)
	}
	var begin pfEvent
	for _, e := range d.events {
		if e.typ == 1 {
			begin = e
			break
		}
	}
	// Re-encode the trace without the first begin's packet.
	top, _ := pbParse(data)
	var out []byte
	for i, f := range top {
		if i == begin.pos {
			continue
		}
		out = append(out, 0x0a)
		out = appendTestVarint(out, uint64(len(f.b)))
		out = append(out, f.b...)
	}
	if c := jsCheck(t, node, dir, out); len(c.Errors) == 0 {
		t.Fatalf("protobufjs check accepted a trace missing a slice begin: %+v", c)
	}
}

func appendTestVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
