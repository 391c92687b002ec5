package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/analyze/stats"
)

// traceResult is one trace's analysis in a multi-trace run.
type traceResult struct {
	meta analyze.TraceMeta
	v    any
	err  error
}

// forEachTrace analyzes traces (each one file or the files of one set) on all cores: up to one trace per CPU at
// once, each read by its own replay reader with a share of the CPUs. fn
// analyzes one opened trace; merge receives the results in file order (so
// output does not depend on timing), with at most 2 x jobs traces'
// results held at once, which bounds memory. name labels the progress line.
func forEachTrace(files [][]string, co *commonOpts, name string, fn func(in *progressInput) (any, error), merge func(r traceResult) error) error {
	jobs := min(runtime.NumCPU(), len(files))
	workers := max(1, runtime.NumCPU()/jobs)
	var events, done atomic.Int64
	var prog *fleetProgress
	if !co.quiet && isTerminal(os.Stderr) {
		prog = startFleetProgress(os.Stderr, name, len(files), &events, &done)
		defer prog.stop()
	}
	order := make(chan chan traceResult, jobs)
	stop := make(chan struct{})
	defer close(stop)
	type job struct {
		paths []string
		out   chan traceResult
	}
	work := make(chan job)
	go func() {
		defer close(order)
		defer close(work)
		for _, p := range files {
			ch := make(chan traceResult, 1)
			select {
			case order <- ch:
			case <-stop:
				return
			}
			select {
			case work <- job{p, ch}:
			case <-stop:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				q := *co
				q.quiet = true // one line for all traces, not one per trace
				name := traceName(j.paths)
				in, err := openInputWorkers(j.paths, &q, workers)
				if err != nil {
					j.out <- traceResult{meta: analyze.TraceMeta{File: name}, err: err}
					done.Add(1)
					continue
				}
				r := traceResult{meta: analyze.MetaOf(name, in.f)}
				r.v, r.err = fn(in)
				if r.err != nil {
					r.err = fmt.Errorf("%s: %w", name, r.err)
				}
				events.Add(in.rows.Load())
				in.Close()
				done.Add(1)
				j.out <- r
			}
		}()
	}
	defer wg.Wait()
	for ch := range order {
		r := <-ch
		if r.err != nil {
			return r.err
		}
		if err := merge(r); err != nil {
			return err
		}
	}
	return nil
}

// fleetLatencyBudget is the exact values each trace of a multi-trace
// latency keeps: the merged result's budget split among the traces in
// flight, so memory stays that of one analysis.
func fleetLatencyBudget(files int) int64 {
	jobs := min(runtime.NumCPU(), files)
	return max(stats.DefaultBudget/int64(2*jobs), 1<<16)
}

// fleetProgress redraws "N/M traces, events, events/s" on a terminal.
type fleetProgress struct {
	*ticker
}

func startFleetProgress(w io.Writer, name string, n int, events, done *atomic.Int64) *fleetProgress {
	start := time.Now()
	draw := func() {
		secs := max(time.Since(start).Seconds(), 1e-9)
		ev := events.Load()
		fmt.Fprintf(w, "\r\033[K%s: %d/%d traces, %d events, %.0f events/s", name, done.Load(), n, ev, float64(ev)/secs)
	}
	return &fleetProgress{startTicker(250*time.Millisecond, func(time.Time) { draw() }, func() {
		draw()
		fmt.Fprintln(w)
	})}
}
