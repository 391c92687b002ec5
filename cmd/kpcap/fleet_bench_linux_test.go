package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
)

// BenchmarkFleet measures kpcap on a generated fleet, 200 traces (100 hosts
// on each of two kernels, openat slower on the second), and DuckDB on the
// dataset kpcap exports, for the same question: per-kernel openat p50/p99.
// KPCAP_FLEET_EVENTS sets the events in all (default 2M; README's numbers
// use 50M); the fleet is generated once into $KPCAP_CACHE/fleet-v2-N.
//
//	KPCAP_FLEET_EVENTS=50000000 go test -run XXX -bench Fleet -benchtime 1x ./cmd/kpcap/
//
// Metrics: events/s (wall) and events per CPU-second, and peak RSS, of
// kpcap export and of kpcap analyze latency --by kernel; DuckDB's query time.
func BenchmarkFleet(b *testing.B) {
	total := 2_000_000
	if v := os.Getenv("KPCAP_FLEET_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 800 {
			b.Fatalf("KPCAP_FLEET_EVENTS=%q: want a number of events >= 800", v)
		}
		total = n
	}
	const hosts = 100 // per kernel
	cache := os.Getenv("KPCAP_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "kpcap")
	}
	// v2: a host has 16 events per call (4 threads, 2 pairs each); v1
	// made 4x the events asked for and reported rates 4x too low.
	dir := filepath.Join(cache, fmt.Sprintf("fleet-v2-%d", total))
	oldDir, newDir := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	if _, err := os.Stat(filepath.Join(dir, "complete")); err != nil {
		os.RemoveAll(dir)
		writeFleet(b, dir, hosts, max(total/(2*hosts)/16, 1), 600)
		if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	// The rates divide the events the files hold, counted from their index.
	var events uint64
	for _, d := range []string{oldDir, newDir} {
		files, _ := filepath.Glob(filepath.Join(d, "*.zst"))
		for _, p := range files {
			f, err := format.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			for _, fr := range f.Frames {
				events += fr.Samples
			}
			f.Close()
		}
	}
	b.ReportMetric(float64(events), "events")
	bin := filepath.Join(b.TempDir(), "kpcap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	globs := []string{filepath.Join(oldDir, "*.zst"), filepath.Join(newDir, "*.zst")}
	run := func(name string, args ...string) (wall time.Duration, cpu time.Duration, rssMiB float64) {
		cmd := exec.Command(bin, args...)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		wall = time.Since(start)
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		return wall, cpu, float64(ru.Maxrss) / 1024
	}
	for i := 0; i < b.N; i++ {
		ds := filepath.Join(b.TempDir(), "dataset")
		wall, cpu, rss := run("export", append([]string{"export", "-q", ds}, globs...)...)
		ev := float64(events)
		b.ReportMetric(ev/wall.Seconds(), "export-events/s")
		b.ReportMetric(ev/cpu.Seconds(), "export-events/cpu-s")
		b.ReportMetric(rss, "export-MiB-rss")
		wall, cpu, rss = run("latency", append([]string{"analyze", "latency", "-q", "--by", "kernel", "--json"}, globs...)...)
		b.ReportMetric(ev/wall.Seconds(), "latency-events/s")
		b.ReportMetric(ev/cpu.Seconds(), "latency-events/cpu-s")
		b.ReportMetric(rss, "latency-MiB-rss")
		q := latencySQL(filepath.ToSlash(ds)+"/events/*/*/*/*.parquet", "syscalls:sys_enter_openat", "syscalls:sys_exit_openat")
		secs := duckTime(b, q)
		b.ReportMetric(secs, "duckdb-query-s")
		b.ReportMetric(ev/secs, "duckdb-events/s")
	}
}

// duckTime runs one query in DuckDB (through node) and returns the seconds
// the query took, node's start-up excluded.
func duckTime(b *testing.B, query string) float64 {
	node, err := exec.LookPath("node")
	cache := os.Getenv("KPCAP_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "kpcap")
	}
	mods := filepath.Join(cache, "node", "node_modules")
	if _, merr := os.Stat(filepath.Join(mods, "@duckdb", "node-api")); err != nil || merr != nil {
		b.Skipf("node with @duckdb/node-api in %s is needed", mods)
	}
	run := b.TempDir()
	if err := os.Symlink(mods, filepath.Join(run, "node_modules")); err != nil {
		b.Fatal(err)
	}
	script := `import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
const db = await (await DuckDBInstance.create(':memory:')).connect();
const t0 = performance.now();
const r = await db.runAndReadAll(readFileSync('q.sql', 'utf8'));
const secs = (performance.now() - t0) / 1000;
console.error(JSON.stringify(r.getRowObjectsJson()));
console.log(secs);
`
	for name, text := range map[string]string{"time.mjs": script, "q.sql": query} {
		if err := os.WriteFile(filepath.Join(run, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cmd := exec.Command(node, "time.mjs")
	cmd.Dir = run
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("duckdb: %v", err)
	}
	secs, err := strconv.ParseFloat(string(out[:len(out)-1]), 64)
	if err != nil {
		b.Fatalf("duckdb time %q: %v", out, err)
	}
	return secs
}
