package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kpcap/kpcap/replay/dataset"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "export",
		summary: "append traces to a Parquet dataset (DuckDB, Spark, Trino, BigQuery)",
		usage:   exportUsage,
		run:     runExport,
	})
}

const exportUsage = `Usage: kpcap export [-j N] [-q] [--json] DIR TRACE...

Append traces to the Parquet dataset in DIR (created if needed), for engines
that read hive-partitioned Parquet: DuckDB on a laptop, Spark, Trino or
BigQuery on a cluster. Events go to
  DIR/events/kernel=K/host=H/source=S/part-ID.parquet   (zstd)
one file per trace and source, with the common columns trace_id, ts (int64
ns), time (TIMESTAMP, UTC), cpu, pid, tid, comm, stack_id, sample_period
and the source's event fields with their own types. The tables traces, sources, stacks, comms
and loss (DIR/TABLE/part-ID.parquet) describe each trace; trace_id joins
them all. format/DATASET.md documents every column.

Adding a trace that is already in DIR does nothing (ID hashes the file's
size and first and last MiB); new traces only add files; every file appears
atomically (written under a hidden .tmp name, then renamed), the trace's
traces row last; the hidden files a killed export left are removed by the
next export (each export holds a lock that its process's end releases).
TRACE arguments may be globs ('hosts/*.zst').

Options:
  -j, --jobs N   traces exported at once (default: the number of CPUs)
  -q, --quiet    no progress line
      --json     print one JSON object per trace (trace_id, file, host,
                 kernel, skipped, events, files, warnings)
      --fsync    flush every file to disk before renaming it into place: a
                 power loss then cannot leave a visible file with missing
                 data (without it a crash or kill of kpcap still cannot)

Examples:
  kpcap export fleet/ hosts/*.pcapng.zst
  duckdb -c "SELECT kernel, quantile_disc(ret, 0.5) FROM read_parquet('fleet/events/*/*/*/*.parquet', hive_partitioning=true) GROUP BY ALL"
`

func runExport(args []string) error {
	fs := pflag.NewFlagSet("export", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Usage = func() { fmt.Fprint(os.Stdout, exportUsage) }
	jobs := fs.IntP("jobs", "j", runtime.NumCPU(), "traces exported at once")
	quiet := fs.BoolP("quiet", "q", false, "no progress line")
	jsonOut := fs.Bool("json", false, "print one JSON object per trace")
	fsync := fs.Bool("fsync", false, "flush each file to disk before renaming it into place")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() < 2 {
		return usagef("want a dataset DIR and at least one TRACE")
	}
	if *jobs <= 0 {
		return usagef("--jobs must be positive")
	}
	dir := fs.Arg(0)
	files, err := expandFiles(fs.Args()[1:])
	if err != nil {
		return err
	}
	stale, err := dataset.Init(dir)
	if err != nil {
		return err
	}
	defer dataset.Release(dir)
	if stale > 0 && !*quiet && !*jsonOut {
		fmt.Fprintf(os.Stderr, "kpcap export: removed %d temporary files of killed exports from %s\n", stale, terminalSafe(dir))
	}
	j := min(*jobs, len(files))
	workers := max(1, runtime.NumCPU()/j)
	var events atomic.Int64
	var done atomic.Int64
	start := time.Now()
	var prog *fleetProgress
	if !*quiet && !*jsonOut && isTerminal(os.Stderr) {
		prog = startFleetProgress(os.Stderr, "kpcap export", len(files), &events, &done)
	}
	results := make([]dataset.Result, len(files))
	errs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < j; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = dataset.Export(dir, files[i], dataset.Options{Workers: workers, Events: &events, Sync: *fsync, ExportedBy: "kpcap " + version})
				done.Add(1)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	if prog != nil {
		prog.stop()
	}
	var failed int
	var added, skipped, total int64
	for i, r := range results {
		if errs[i] != nil {
			failed++
			fmt.Fprintf(os.Stderr, "kpcap export: %s\n", terminalSafe(errs[i].Error()))
			continue
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(os.Stderr, "kpcap export: %s: warning: %s\n", terminalSafe(files[i]), terminalSafe(w))
		}
		if r.Skipped {
			skipped++
		} else {
			added++
			total += r.Events
		}
		if *jsonOut {
			if err := writeJSONLine(os.Stdout, r); err != nil {
				return err
			}
		}
	}
	if !*quiet && !*jsonOut {
		secs := time.Since(start).Seconds()
		fmt.Fprintf(os.Stderr, "kpcap export: %d traces added (%d events, %.0f events/s), %d already in %s\n",
			added, total, float64(total)/max(secs, 1e-9), skipped, terminalSafe(dir))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d traces failed (the others were exported)", failed, len(files))
	}
	return nil
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
