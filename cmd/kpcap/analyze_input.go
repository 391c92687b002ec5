package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
)

// progressInput wraps a replay reader, shows progress on a TTY (events,
// events/s, compressed bytes read, loss in the trace) and tells the analysis
// its time window. Progress comes from the batches Next returns and, for
// passes that read the frames themselves (the summary's fast path), from
// analyze.ProgressReporter.
type progressInput struct {
	*replay.Reader
	f            *format.File
	since, until uint64
	rows         atomic.Int64  // rows Next returned
	passEvents   atomic.Uint64 // a direct pass's running totals
	passBytes    atomic.Int64
	progress     *progressLine // nil when not shown
}

// Next counts the rows of each batch for the progress line and ends the
// line after the last.
func (p *progressInput) Next() bool {
	ok := p.Reader.Next()
	if ok {
		p.rows.Add(p.Reader.Record().NumRows())
	} else {
		p.finishProgress()
	}
	return ok
}

var _ analyze.ProgressReporter = (*progressInput)(nil)

// PassProgress implements analyze.ProgressReporter.
func (p *progressInput) PassProgress(events uint64, bytes int64) {
	p.passEvents.Store(events)
	p.passBytes.Store(bytes)
}

// counts is what the progress line shows: events so far and compressed bytes read.
func (p *progressInput) counts() (events uint64, bytes int64) {
	return uint64(p.rows.Load()) + p.passEvents.Load(), p.Reader.BytesRead() + p.passBytes.Load()
}

// finishProgress prints the final progress line and ends it; the analysis
// output follows. It may be called more than once.
func (p *progressInput) finishProgress() {
	if p.progress != nil {
		p.progress.stop()
	}
}

// Window is the analyzed time window on the capture clock.
func (p *progressInput) Window() (since, until uint64) { return p.since, p.until }

// Close closes the reader and the file.
func (p *progressInput) Close() error {
	p.finishProgress()
	err := p.Reader.Close()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// progressLine redraws one status line on w every interval until stop,
// which draws it a last time and ends it with a newline.
type progressLine struct {
	*ticker
	w      io.Writer
	name   string
	total  int64 // compressed bytes of the sample frames
	lost   uint64
	counts func() (events uint64, bytes int64)
	start  time.Time
}

// startProgress starts the progress line of trace f on w.
func startProgress(w io.Writer, name string, f *format.File, counts func() (uint64, int64), interval time.Duration) *progressLine {
	l := &progressLine{w: w, name: terminalSafe(name), counts: counts, start: time.Now()}
	for _, fi := range f.Frames {
		l.total += fi.CSize
	}
	for _, lo := range f.Lost {
		l.lost += lo.Count
	}
	l.ticker = startTicker(interval, l.draw, func() {
		l.draw(time.Now())
		fmt.Fprintln(l.w)
	})
	return l
}

// draw redraws the line at now.
func (l *progressLine) draw(now time.Time) {
	events, bytes := l.counts()
	secs := max(now.Sub(l.start).Seconds(), 1e-9)
	fmt.Fprintf(l.w, "\r\033[K%s: %d events, %.0f events/s, %s of %s read, %d lost in trace",
		l.name, events, float64(events)/secs, byteSize(min(bytes, l.total), 1), byteSize(l.total, 1), l.lost)
}

// openInput opens the trace paths name for an analysis with the common
// options (see openInputWorkers).
func openInput(paths []string, co *commonOpts) (*progressInput, error) {
	return openInputWorkers(paths, co, 0)
}

// openInputWorkers is openInput with workers frame decoders (0 = one per CPU).
//
// The paths (files, globs, directories) are one trace: the files of a
// rotated set, merged in time order (format.OpenSet), so that pairs and
// comms span its files.
func openInputWorkers(paths []string, co *commonOpts, workers int) (*progressInput, error) {
	f, path, err := openTrace(paths)
	if err != nil {
		return nil, err // it names the path
	}
	p := &progressInput{f: f}
	// The same window as kpcap replay's: offsets count from the capture start.
	if p.since, p.until, err = parseWindow(f, co.since, co.until); err != nil {
		f.Close()
		return nil, err
	}
	r, err := replay.NewReader(f, replay.Options{Probes: co.probes, Filter: co.filter, Since: p.since, Until: p.until, Workers: workers})
	if err != nil {
		f.Close()
		return nil, readerError(path, err)
	}
	p.Reader = r
	if !co.quiet && isTerminal(os.Stderr) {
		p.progress = startProgress(os.Stderr, filepath.Base(path), f, p.counts, 250*time.Millisecond)
	}
	return p, nil
}
