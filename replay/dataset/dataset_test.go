package dataset

import (
	"crypto/sha256"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/kpcap/kpcap/format"
)

var samples = []string{
	filepath.Join("..", "..", "testdata", "kernels", "openat-6.1.pcapng.zst"),
	filepath.Join("..", "..", "testdata", "kernels", "openat-6.12.pcapng.zst"),
}

// rotated is a file of a rotated system-wide recording whose tid -1 rows
// come under many pids (testdata/rotated/README.md).
var rotated = filepath.Join("..", "..", "testdata", "rotated", "exec-exiting-tid.pcapng.zst")

// snapshot maps every visible file of the dataset to its content hash.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func export(t *testing.T, dir, path string) Result {
	t.Helper()
	if _, err := Init(dir); err != nil {
		t.Fatal(err)
	}
	r, err := Export(dir, path, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// parquetRows opens one dataset file with the Parquet library's own reader.
func parquetRows(t *testing.T, path string) (int64, []string) {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sc := r.MetaData().Schema
	var cols []string
	for i := 0; i < sc.NumColumns(); i++ {
		cols = append(cols, sc.Column(i).Name())
	}
	return r.NumRows(), cols
}

func TestExportIdempotentIncremental(t *testing.T) {
	dir := t.TempDir()
	r1 := export(t, dir, samples[0])
	if r1.Skipped || r1.Events == 0 {
		t.Fatalf("first export: %+v", r1)
	}
	f, err := format.Open(samples[0])
	if err != nil {
		t.Fatal(err)
	}
	var recorded uint64
	perSource := map[string]uint64{}
	for _, s := range f.Stats {
		recorded += s.Received
		perSource[f.Header.Sources[s.Source].Name] += s.Received
	}
	f.Close()
	if uint64(r1.Events) != recorded {
		t.Fatalf("exported %d events, the file holds %d", r1.Events, recorded)
	}
	// Every source's events file holds exactly its events, with the common
	// columns first.
	for name, n := range perSource {
		p := filepath.Join(dir, filepath.FromSlash(eventsDir(r1.Kernel, r1.Host, name)), partName(r1.TraceID))
		rows, cols := parquetRows(t, p)
		if uint64(rows) != n {
			t.Errorf("%s: %d rows, want %d", name, rows, n)
		}
		if got := strings.Join(cols[:8], ","); got != "trace_id,ts,time,cpu,pid,tid,comm,stack_id" {
			t.Errorf("%s: columns %s", name, got)
		}
	}
	before := snapshot(t, dir)

	// The same trace again, and a renamed copy of it: nothing changes.
	if r := export(t, dir, samples[0]); !r.Skipped {
		t.Fatalf("second export of the same trace was not skipped: %+v", r)
	}
	cp := filepath.Join(t.TempDir(), "copy.pcapng.zst")
	b, err := os.ReadFile(samples[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := export(t, dir, cp); !r.Skipped || r.TraceID != r1.TraceID {
		t.Fatalf("a copy of the trace was not recognized: %+v", r)
	}
	if after := snapshot(t, dir); len(after) != len(before) {
		t.Fatalf("re-export changed the dataset: %d files, was %d", len(after), len(before))
	}

	// Another trace adds files and rewrites none.
	r2 := export(t, dir, samples[1])
	if r2.Skipped || r2.TraceID == r1.TraceID {
		t.Fatalf("second trace: %+v", r2)
	}
	after := snapshot(t, dir)
	for p, h := range before {
		if after[p] != h {
			t.Errorf("%s was rewritten by a later export", p)
		}
	}
	var added []string
	for p := range after {
		if _, ok := before[p]; !ok {
			added = append(added, p)
		}
	}
	sort.Strings(added)
	want := append([]string(nil), r2.Files...)
	sort.Strings(want)
	if strings.Join(added, "\n") != strings.Join(want, "\n") {
		t.Fatalf("new files:\n%s\nreported:\n%s", strings.Join(added, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range added {
		if strings.Contains(p, ".tmp") {
			t.Errorf("temporary file left: %s", p)
		}
	}
	// The traces row is committed last.
	if last := r2.Files[len(r2.Files)-1]; last != TableTraces+"/"+partName(r2.TraceID) {
		t.Errorf("last file committed: %s", last)
	}
}

func TestExportFailureLeavesNothingVisible(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir); err != nil {
		t.Fatal(err)
	}
	// The traces table cannot be created: the export fails after writing
	// every events file.
	if err := os.WriteFile(filepath.Join(dir, TableTraces), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Export(dir, samples[0], Options{}); err == nil {
		t.Fatal("export into a broken dataset succeeded")
	}
	// This process's export lock is its only file until Release.
	if err := Release(dir); err != nil {
		t.Fatal(err)
	}
	files := snapshot(t, dir)
	for p := range files {
		if p != markerName && p != TableTraces {
			t.Errorf("left behind: %s", p)
		}
	}
}

func TestInitRejectsOtherVersions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, markerName), []byte(`{"format":"kpcap-dataset","version":99}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("Init accepted layout version 99: %v", err)
	}
}

func TestPartitionValue(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "unknown",
		"6.12.117+deb12-amd64":      "6.12.117+deb12-amd64",
		"syscalls:sys_enter_openat": "syscalls%3Asys_enter_openat",
		"(none)":                    "%28none%29",
		"a/b=c%d":                   "a%2Fb%3Dc%25d",
		"..":                        "%2E%2E",
		"é":                         "%C3%A9",
	} {
		if got := PartitionValue(in); got != want {
			t.Errorf("PartitionValue(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat(":", 100)
	a, b := PartitionValue(long), PartitionValue(long+":")
	if len(a) > maxPartValue || a == b || strings.HasSuffix(a[:len(a)-17], "%") || strings.HasSuffix(a[:len(a)-17], "%3") {
		t.Errorf("long values: %q, %q", a, b)
	}
}

// requireCI skips locally and fails under CI=true, for tests needing tools
// that CI installs.
func requireCI(t testing.TB, ok bool, reason string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s", reason)
	}
	t.Skip(reason)
}

// nodeModules is where .ci/run installs @duckdb/node-api.
func nodeModules() string {
	dir := os.Getenv("KPCAP_CACHE")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "kpcap")
	}
	return filepath.Join(dir, "node", "node_modules")
}

// duckdb runs queries with DuckDB through node and returns each query's rows.
func duckdb(t *testing.T, queries ...string) [][]map[string]any {
	t.Helper()
	node, err := exec.LookPath("node")
	mods := nodeModules()
	_, merr := os.Stat(filepath.Join(mods, "@duckdb", "node-api"))
	requireCI(t, err == nil && merr == nil, "node with @duckdb/node-api in "+mods+" is needed (see .ci/run)")
	run := t.TempDir()
	if err := os.Symlink(mods, filepath.Join(run, "node_modules")); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("testdata", "query.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "query.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	qb, _ := json.Marshal(queries)
	if err := os.WriteFile(filepath.Join(run, "q.json"), qb, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "query.mjs", "q.json")
	cmd.Dir = run
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("duckdb: %v\n%s", err, stderr)
	}
	var res [][]map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var rows []map[string]any
		if err := json.Unmarshal([]byte(line), &rows); err != nil {
			t.Fatalf("duckdb output %q: %v", line, err)
		}
		res = append(res, rows)
	}
	if len(res) != len(queries) {
		t.Fatalf("duckdb answered %d of %d queries", len(res), len(queries))
	}
	return res
}

func TestDuckDBReadsDataset(t *testing.T) {
	dir := t.TempDir()
	var ids []string
	want := map[string]uint64{} // "kernel|source" -> events
	for _, s := range samples {
		r := export(t, dir, s)
		ids = append(ids, r.TraceID)
		f, err := format.Open(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range f.Stats {
			want[f.Header.Host.Kernel+"|"+f.Header.Sources[st.Source].Name] += st.Received
		}
		f.Close()
	}
	// A stale temporary file, as a crash would leave, must not be read.
	stale := filepath.Join(dir, "events", "kernel=x", "host=y", "source=z")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, TableTraces, partName(ids[0])))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, ".part-dead.parquet.1.tmp"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ev := "read_parquet('" + filepath.ToSlash(dir) + "/events/*/*/*/*.parquet', hive_partitioning=true, union_by_name=true)"
	tbl := func(name string) string {
		return "read_parquet('" + filepath.ToSlash(dir) + "/" + name + "/*.parquet')"
	}
	res := duckdb(t,
		"SELECT kernel, source, count(*) AS n FROM "+ev+" GROUP BY ALL ORDER BY ALL",
		// Every events row joins its trace, and the trace's partition
		// values match its row.
		"SELECT count(*) AS n, count(t.trace_id) AS joined, count(*) FILTER (WHERE t.kernel = e.kernel AND t.host = e.host) AS same FROM "+ev+" e LEFT JOIN "+tbl("traces")+" t USING (trace_id)",
		"SELECT typeof(ts) AS ts, typeof(time) AS time, typeof(cpu) AS cpu, typeof(ret) AS ret FROM "+ev+" WHERE source = 'kprobes:openat2_ret' LIMIT 1",
		"SELECT sum(events) AS events, count(*) AS traces FROM "+tbl("traces"),
		"SELECT count(*) AS missing FROM "+ev+" e WHERE stack_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "+tbl("stacks")+" s WHERE s.trace_id = e.trace_id AND s.stack_id = e.stack_id)",
		"SELECT count(*) AS n FROM "+tbl("sources")+" s JOIN "+tbl("traces")+" t USING (trace_id)",
	)
	got := map[string]uint64{}
	var total uint64
	for _, row := range res[0] {
		var n uint64
		json.Unmarshal([]byte(row["n"].(string)), &n)
		got[row["kernel"].(string)+"|"+row["source"].(string)] = n
		total += n
	}
	if len(got) != len(want) {
		t.Fatalf("DuckDB groups %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("DuckDB %s: %d events, want %d", k, got[k], n)
		}
	}
	j := res[1][0]
	if j["n"] != j["joined"] || j["n"] != j["same"] {
		t.Errorf("events to traces join: %v", j)
	}
	types := res[2][0]
	for k, v := range map[string]string{"ts": "BIGINT", "time": "TIMESTAMP WITH TIME ZONE", "cpu": "INTEGER", "ret": "BIGINT"} {
		if types[k] != v {
			t.Errorf("DuckDB type of %s: %v, want %s", k, types[k], v)
		}
	}
	if res[3][0]["traces"] != "2" || res[3][0]["events"] != jsonNum(total) {
		t.Errorf("traces table: %v, want 2 traces and %d events", res[3][0], total)
	}
	if res[4][0]["missing"] != "0" {
		t.Errorf("%v stack ids without a stacks row", res[4][0]["missing"])
	}
	if res[5][0]["n"] != "8" {
		t.Errorf("sources joined to traces: %v, want 8", res[5][0]["n"])
	}
}

func jsonNum(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
