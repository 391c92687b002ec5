package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/analyze"
)

const (
	kernelOld = "6.1.0-56-amd64"
	kernelNew = "6.12.117+deb12-amd64"
)

// writeFleet generates n hosts per group: old (kernel 6.1) and new (6.12,
// openat slower by shift ns), each host its own speed and call count, and
// returns the group directories.
func writeFleet(t testing.TB, dir string, n, calls int, shift uint64) (oldDir, newDir string) {
	oldDir, newDir = filepath.Join(dir, "old"), filepath.Join(dir, "new")
	for _, d := range []string{oldDir, newDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var jobs []traceJob
	for i := 0; i < n; i++ {
		jobs = append(jobs,
			traceJob{FleetHost: &fleetHostSpec{filepath.Join(oldDir, fmt.Sprintf("host-%03d.pcapng.zst", i)),
				fleetHost{Host: fmt.Sprintf("host-%03d", i), Kernel: kernelOld, Calls: calls, Seed: uint64(i)}}},
			traceJob{FleetHost: &fleetHostSpec{filepath.Join(newDir, fmt.Sprintf("host-%03d.pcapng.zst", n+i)),
				fleetHost{Host: fmt.Sprintf("host-%03d", n+i), Kernel: kernelNew, Calls: calls, Seed: uint64(1000 + i), OpenatShift: shift}}})
	}
	writeTraces(t, jobs...)
	return oldDir, newDir
}

func groupDiff(t *testing.T, bin string, a, b string) *analyze.GroupDiff {
	t.Helper()
	r := runCLI(t, bin, "analyze", "diff", "--json", "-q", "--a", a, "--b", b)
	if r.code != 0 {
		t.Fatalf("diff --a %s --b %s: exit %d\n%s", a, b, r.code, r.stderr)
	}
	var d analyze.GroupDiff
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func funcDiff(t *testing.T, d *analyze.GroupDiff, name string) analyze.FuncGroupDiff {
	t.Helper()
	for _, f := range d.Functions {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no function %s in %+v", name, d.Functions)
	return analyze.FuncGroupDiff{}
}

// The fleet comparison finds the injected openat regression, and only it:
// read latency and call rates, drawn the same way in both groups, are not
// flagged; and a single slow host is named as the driver without making
// the change significant (hosts, not events, are the samples).
func TestFleetDiff(t *testing.T) {
	bin := buildKpcap(t)
	dir := t.TempDir()
	const hosts, shift = 30, 600
	oldDir, newDir := writeFleet(t, dir, hosts, 400, shift)
	d := groupDiff(t, bin, filepath.Join(oldDir, "*.zst"), filepath.Join(newDir, "*.zst"))
	if d.A.Hosts != hosts || d.B.Hosts != hosts || d.A.Traces != hosts || strings.Join(d.B.Kernels, ",") != kernelNew {
		t.Fatalf("groups: %+v / %+v", d.A, d.B)
	}
	op := funcDiff(t, d, "syscall:openat")
	rd := funcDiff(t, d, "syscall:read")
	if !op.Significant || op.MedianChangePct == nil {
		t.Fatalf("openat shift not found: %+v", op)
	}
	// The shift is 600 ns on a median of about 2.7 µs: the median of host
	// medians moves by 600 ns within the hosts' spread.
	if got := int64(op.B.HostMedian) - int64(op.A.HostMedian); got < 400 || got > 800 {
		t.Errorf("openat median moved %d ns, injected %d", got, shift)
	}
	if op.OutsideA < hosts/2 {
		t.Errorf("only %d of %d B hosts outside A's range; the shift is fleet-wide", op.OutsideA, hosts)
	}
	if rd.Significant || rd.RateSignificant || op.RateSignificant {
		t.Errorf("unchanged quantities flagged: read %+v; openat rate p %v", rd, op.RatePValue)
	}
	if rd.PValue < 0.05 {
		t.Logf("note: read p = %v", rd.PValue)
	}

	// One slow host among otherwise unchanged ones: named first as the
	// driver, not significant across hosts.
	one := filepath.Join(dir, "one")
	if err := os.MkdirAll(one, 0o755); err != nil {
		t.Fatal(err)
	}
	var jobs []traceJob
	for i := 0; i < hosts; i++ {
		h := fleetHost{Host: fmt.Sprintf("host-%03d", i), Kernel: kernelOld, Calls: 400, Seed: uint64(i)}
		if i == 7 {
			h.OpenatShift = 20 * shift
		}
		jobs = append(jobs, traceJob{FleetHost: &fleetHostSpec{filepath.Join(one, fmt.Sprintf("host-%03d.pcapng.zst", i)), h}})
	}
	writeTraces(t, jobs...)
	d = groupDiff(t, bin, filepath.Join(oldDir, "*.zst"), filepath.Join(one, "*.zst"))
	op = funcDiff(t, d, "syscall:openat")
	if op.Significant || len(op.Drivers) == 0 || op.Drivers[0].Host != "host-007" || op.OutsideA != 1 {
		t.Errorf("one slow host: %+v", op)
	}
	// The text form names the groups and the driver.
	r := runCLI(t, bin, "analyze", "diff", "-q", "--a", filepath.Join(oldDir, "*.zst"), "--b", filepath.Join(newDir, "*.zst"))
	if r.code != 0 || !strings.Contains(r.stdout, "A: 30 traces, 30 hosts, kernels "+kernelOld) || !strings.Contains(r.stdout, "syscall:openat: B hosts furthest") {
		t.Errorf("text diff: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"analyze", "diff", "--a", filepath.Join(oldDir, "*.zst")}, "takes --a PATTERN... and --b PATTERN..."},
		{[]string{"analyze", "diff", "--a", "x", "--b", "y", "z"}, "no other trace arguments"},
		{[]string{"analyze", "diff", "--a", filepath.Join(dir, "none*.zst"), "--b", filepath.Join(newDir, "*.zst")}, "no file matches"},
	} {
		if r := runCLI(t, bin, tc.args...); r.code != 2 || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%v: exit %d %q, want 2 and %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
}

// latencySQL is README's per-kernel latency query for one entry/exit pair:
// each exit paired with the previous event of its thread when that is the
// entry, as kpcap pairs per thread. DuckDB's quantile_disc is the
// nearest-rank percentile, kpcap's definition.
func latencySQL(glob, enter, exit string) string {
	return fmt.Sprintf(`WITH ev AS (
  SELECT kernel, trace_id, tid, ts, source
  FROM read_parquet('%s', hive_partitioning = true, union_by_name = true)
  WHERE source IN ('%s', '%s')
), paired AS (
  SELECT kernel, source, ts - lag(ts) OVER w AS ns, lag(source) OVER w AS prev
  FROM ev WINDOW w AS (PARTITION BY trace_id, tid ORDER BY ts)
)
SELECT kernel, count(*) AS calls, quantile_disc(ns, 0.5) AS p50, quantile_disc(ns, 0.99) AS p99
FROM paired
WHERE source = '%s' AND prev = '%s'
GROUP BY kernel ORDER BY kernel`, glob, enter, exit, exit, enter)
}

// duckQuery runs queries with DuckDB (@duckdb/node-api) on the machine.
func duckQuery(t *testing.T, queries ...string) [][]map[string]any {
	t.Helper()
	node, err := exec.LookPath("node")
	dir := os.Getenv("KPCAP_CACHE")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "kpcap")
	}
	mods := filepath.Join(dir, "node", "node_modules")
	_, merr := os.Stat(filepath.Join(mods, "@duckdb", "node-api"))
	if err != nil || merr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but node with @duckdb/node-api in %s is missing (see .ci/run)", mods)
		}
		t.Skipf("node with @duckdb/node-api in %s is needed (see .ci/run)", mods)
	}
	run := t.TempDir()
	if err := os.Symlink(mods, filepath.Join(run, "node_modules")); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("..", "..", "replay", "dataset", "testdata", "query.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	qb, _ := json.Marshal(queries)
	for name, b := range map[string][]byte{"query.mjs": script, "q.json": qb} {
		if err := os.WriteFile(filepath.Join(run, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(node, "query.mjs", "q.json")
	cmd.Dir = run
	out, err := cmd.Output()
	if err != nil {
		var se []byte
		if ee, ok := err.(*exec.ExitError); ok {
			se = ee.Stderr
		}
		t.Fatalf("duckdb: %v\n%s", err, se)
	}
	var res [][]map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var rows []map[string]any
		if err := json.Unmarshal([]byte(line), &rows); err != nil {
			t.Fatal(err)
		}
		res = append(res, rows)
	}
	return res
}

// The exported fleet dataset answers the per-kernel latency question in
// DuckDB, with one glob, exactly as kpcap analyze latency --by kernel does:
// on generated hosts and on the committed 6.1 and 6.12 recordings
// rewritten as several hosts each.
func TestFleetDatasetDuckDB(t *testing.T) {
	bin := buildKpcap(t)
	dir := t.TempDir()
	oldDir, newDir := writeFleet(t, dir, 8, 300, 600)
	for i := 0; i < 4; i++ {
		for k, s := range []string{"openat-6.1.pcapng.zst", "openat-6.12.pcapng.zst"} {
			dst := []string{oldDir, newDir}[k]
			writeTraces(t, traceJob{Rewrite: &rewriteSpec{filepath.Join("..", "..", "testdata", "kernels", s), filepath.Join(dst, fmt.Sprintf("real-%d.pcapng.zst", i)), fmt.Sprintf("real-%d-%d", k, i)}})
		}
	}
	ds := filepath.Join(dir, "dataset")
	if r := runCLI(t, bin, "export", "-q", ds, filepath.Join(oldDir, "*.zst"), filepath.Join(newDir, "*.zst")); r.code != 0 {
		t.Fatalf("export: %d %s", r.code, r.stderr)
	}
	r := runCLI(t, bin, "analyze", "latency", "--by", "kernel", "--json", "-q", filepath.Join(oldDir, "*.zst"), filepath.Join(newDir, "*.zst"))
	if r.code != 0 {
		t.Fatalf("latency: %d %s", r.code, r.stderr)
	}
	var l analyze.Latency
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		t.Fatal(err)
	}
	if l.Traces != 24 {
		t.Fatalf("latency merged %d traces, want 24", l.Traces)
	}
	glob := filepath.ToSlash(ds) + "/events/*/*/*/*.parquet"
	pairs := []struct{ fn, enter, exit string }{
		{"syscall:openat", "syscalls:sys_enter_openat", "syscalls:sys_exit_openat"},
		{"syscall:read", "syscalls:sys_enter_read", "syscalls:sys_exit_read"},
		{"do_sys_openat2", "kprobes:openat2", "kprobes:openat2_ret"},
	}
	var qs []string
	for _, p := range pairs {
		qs = append(qs, latencySQL(glob, p.enter, p.exit))
	}
	res := duckQuery(t, qs...)
	for i, p := range pairs {
		want := map[string]*analyze.FuncLatency{}
		for _, f := range l.Functions {
			if f.Name == p.fn {
				want[f.Group] = f
			}
		}
		if len(res[i]) != 2 || len(want) != 2 {
			t.Fatalf("%s: DuckDB %v, kpcap %d kernels", p.fn, res[i], len(want))
		}
		for _, row := range res[i] {
			f := want[row["kernel"].(string)]
			if f == nil || !f.Exact {
				t.Fatalf("%s: kernel %v not in kpcap's output (or not exact)", p.fn, row["kernel"])
			}
			got := fmt.Sprintf("%v %v %v", row["calls"], row["p50"], row["p99"])
			if exp := fmt.Sprintf("%d %d %d", f.Count, f.P50, f.P99); got != exp {
				t.Errorf("%s %s: DuckDB calls/p50/p99 %s, kpcap %s", p.fn, row["kernel"], got, exp)
			}
		}
	}
}

// Summary, flame and report read many traces as a fleet: their per-kernel
// totals are the sums of the traces' own single-trace analyses.
func TestFleetSubcommands(t *testing.T) {
	bin := buildKpcap(t)
	dir := t.TempDir()
	oldDir, newDir := writeFleet(t, dir, 3, 150, 600)
	globs := []string{filepath.Join(oldDir, "*.zst"), filepath.Join(newDir, "*.zst")}
	files := map[string][]string{}
	for k, d := range map[string]string{kernelOld: oldDir, kernelNew: newDir} {
		m, _ := filepath.Glob(filepath.Join(d, "*.zst"))
		files[k] = m
	}
	// What the single-trace analyses say, summed per kernel.
	wantEvents := map[string]uint64{}
	wantSource := map[string]uint64{}
	wantFlame := map[string]uint64{}
	for k, fs := range files {
		for _, f := range fs {
			var s analyze.Summary
			r := runCLI(t, bin, "analyze", "summary", "--json", "-q", f)
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &s) != nil {
				t.Fatalf("summary %s: %d %s", f, r.code, r.stderr)
			}
			wantEvents[k] += s.Events
			for _, sc := range s.Sources {
				wantSource[k+" "+sc.Name] += sc.Events
			}
			r = runCLI(t, bin, "analyze", "flame", "-q", f)
			if r.code != 0 {
				t.Fatalf("flame %s: %d %s", f, r.code, r.stderr)
			}
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				var n uint64
				fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &n)
				wantFlame[k] += n
			}
		}
	}

	var fs analyze.FleetSummary
	r := runCLI(t, bin, append([]string{"analyze", "summary", "--by", "kernel", "--json", "-q"}, globs...)...)
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &fs) != nil {
		t.Fatalf("fleet summary: %d %s", r.code, r.stderr)
	}
	if len(fs.Traces) != 6 || len(fs.Groups) != 2 {
		t.Fatalf("fleet summary: %d traces, %d groups", len(fs.Traces), len(fs.Groups))
	}
	var total uint64
	for _, g := range fs.Groups {
		if g.Traces != 3 || g.Hosts != 3 || g.Events != wantEvents[g.Key] {
			t.Errorf("group %s: %d traces, %d hosts, %d events; want 3, 3, %d", g.Key, g.Traces, g.Hosts, g.Events, wantEvents[g.Key])
		}
		for _, sc := range g.Sources {
			if w := wantSource[g.Key+" "+sc.Name]; sc.Events != w {
				t.Errorf("group %s source %s: %d events, want %d", g.Key, sc.Name, sc.Events, w)
			}
		}
		total += g.Events
	}
	if fs.Total.Events != total {
		t.Errorf("total %d events, groups %d", fs.Total.Events, total)
	}
	r = runCLI(t, bin, append([]string{"analyze", "summary", "-q", "--by", "kernel"}, globs...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "Per kernel:") || !strings.Contains(r.stdout, "host-004") {
		t.Errorf("fleet summary text: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	r = runCLI(t, bin, append([]string{"analyze", "flame", "-q", "--by", "kernel"}, globs...)...)
	if r.code != 0 {
		t.Fatalf("fleet flame: %d %s", r.code, r.stderr)
	}
	gotFlame := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		root, _, _ := strings.Cut(line, ";")
		var n uint64
		fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &n)
		gotFlame[strings.TrimPrefix(root, "kernel=")] += n
	}
	if fmt.Sprint(gotFlame) != fmt.Sprint(wantFlame) {
		t.Errorf("fleet flame per kernel root %v, single traces %v", gotFlame, wantFlame)
	}

	out := filepath.Join(dir, "fleet.html")
	r = runCLI(t, bin, append([]string{"analyze", "report", "-q", "--by", "kernel", "-o", out}, globs...)...)
	if r.code != 0 {
		t.Fatalf("fleet report: %d %s", r.code, r.stderr)
	}
	html, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h2>Traces</h2>", "6 traces", "host-005", "syscall:openat [" + kernelOld + "]", "kernel=" + kernelOld} {
		if !strings.Contains(string(html), want) {
			t.Errorf("fleet report lacks %q", want)
		}
	}
	if r := runCLI(t, bin, append([]string{"analyze", "summary", "--by", "comm"}, globs...)...); r.code != 2 || !strings.Contains(r.stderr, "want kernel, host, arch or trace") {
		t.Errorf("summary --by comm: %d %s", r.code, r.stderr)
	}
}
