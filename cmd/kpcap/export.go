package main

import (
	"encoding/json"
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

// exportFlags are kpcap export's options and arguments.
type exportFlags struct {
	dir                  string
	files                []string
	jobs                 int
	quiet, jsonOut, sync bool
}

func runExport(args []string) error {
	fl, err := parseExportFlags(args)
	if err != nil {
		return err
	}
	stale, err := dataset.Init(fl.dir)
	if err != nil {
		return err
	}
	defer dataset.Release(fl.dir)
	if stale > 0 && !fl.quiet && !fl.jsonOut {
		fmt.Fprintf(os.Stderr, "kpcap export: removed %d temporary files of killed exports from %s\n", stale, terminalSafe(fl.dir))
	}
	start := time.Now()
	results, errs := exportFiles(fl)
	return reportExport(fl, results, errs, time.Since(start))
}

// parseExportFlags reads kpcap export's command line and expands its
// TRACE arguments.
func parseExportFlags(args []string) (*exportFlags, error) {
	fs := pflag.NewFlagSet("export", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Usage = func() { fmt.Fprint(os.Stdout, exportUsage) }
	jobs := fs.IntP("jobs", "j", runtime.NumCPU(), "traces exported at once")
	quiet := fs.BoolP("quiet", "q", false, "no progress line")
	jsonOut := fs.Bool("json", false, "print one JSON object per trace")
	fsync := fs.Bool("fsync", false, "flush each file to disk before renaming it into place")
	if err := parseArgs(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() < 2 {
		return nil, usagef("want a dataset DIR and at least one TRACE")
	}
	if *jobs <= 0 {
		return nil, usagef("--jobs must be positive")
	}
	files, err := expandFiles(fs.Args()[1:])
	if err != nil {
		return nil, err
	}
	return &exportFlags{dir: fs.Arg(0), files: files, jobs: *jobs, quiet: *quiet, jsonOut: *jsonOut, sync: *fsync}, nil
}

// exportFiles exports fl.files, fl.jobs at once, each decoded by an equal
// share of the CPUs, with a progress line on a terminal.
func exportFiles(fl *exportFlags) ([]dataset.Result, []error) {
	files := fl.files
	j := min(fl.jobs, len(files))
	workers := max(1, runtime.NumCPU()/j)
	var events, done atomic.Int64
	var prog *fleetProgress
	if !fl.quiet && !fl.jsonOut && isTerminal(os.Stderr) {
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
				results[i], errs[i] = dataset.Export(fl.dir, files[i], dataset.Options{Workers: workers, Events: &events, Sync: fl.sync, ExportedBy: "kpcap " + version})
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
	return results, errs
}

// reportExport prints each trace's errors, warnings and JSON line and the
// summary, and fails when a trace did.
func reportExport(fl *exportFlags, results []dataset.Result, errs []error, took time.Duration) error {
	var failed int
	var added, skipped, total int64
	for i, r := range results {
		if errs[i] != nil {
			failed++
			fmt.Fprintf(os.Stderr, "kpcap export: %s\n", terminalSafe(errs[i].Error()))
			continue
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(os.Stderr, "kpcap export: %s: warning: %s\n", terminalSafe(fl.files[i]), terminalSafe(w))
		}
		if r.Skipped {
			skipped++
		} else {
			added++
			total += r.Events
		}
		if fl.jsonOut {
			if err := writeJSONLine(os.Stdout, r); err != nil {
				return err
			}
		}
	}
	if !fl.quiet && !fl.jsonOut {
		fmt.Fprintf(os.Stderr, "kpcap export: %d traces added (%d events, %.0f events/s), %d already in %s\n",
			added, total, float64(total)/max(took.Seconds(), 1e-9), skipped, terminalSafe(fl.dir))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d traces failed (the others were exported)", failed, len(results))
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
