package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/replay"
)

// replayKind is replay's output format: format when given, else the one
// the output file's extension names, else text.
func replayKind(format, out string) (string, error) {
	kind := format
	if kind == "" {
		kind = "text"
		switch strings.ToLower(filepath.Ext(out)) {
		case ".parquet", ".pq":
			kind = "parquet"
		case ".arrow", ".ipc", ".feather":
			kind = "arrow"
		case ".json", ".jsonl", ".ndjson":
			kind = "json"
		case ".perfetto-trace", ".pftrace", ".perfetto":
			kind = "perfetto"
		}
	}
	switch kind {
	case "text", "json", "arrow", "parquet", "perfetto":
		return kind, nil
	}
	return "", usagef("unknown --format %q (want text, json, arrow, parquet or perfetto)", kind)
}

// replayDest is where replay writes: stdout; a device or FIFO, in place
// (special); or a temporary file renamed to the output once complete.
type replayDest struct {
	w       io.Writer
	tmp     *os.File // nil once committed
	special bool
	dev     *os.File // the device or FIFO
}

// openReplayDest opens out ("" is stdout), failing before any decoding
// when it cannot be written.
func openReplayDest(out string) (*replayDest, error) {
	d := &replayDest{w: os.Stdout}
	if out == "" {
		return d, nil
	}
	if st, err := os.Stat(out); err == nil && !st.IsDir() && !st.Mode().IsRegular() {
		// A device (/dev/null) or FIFO is written in place: renaming
		// a finished temporary file over it would replace it.
		f, err := os.OpenFile(out, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", out, err)
		}
		d.w, d.special, d.dev = f, true, f
		return d, nil
	}
	tmp, err := createTemp(out)
	if err != nil {
		return nil, err
	}
	d.w, d.tmp = tmp, tmp
	return d, nil
}

// commit renames the complete temporary file to out.
func (d *replayDest) commit(out string) error {
	if err := d.tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := d.tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Rename(d.tmp.Name(), out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	d.tmp = nil
	return nil
}

// discard closes the device, and removes the temporary file unless it was
// committed.
func (d *replayDest) discard() {
	if d.dev != nil {
		d.dev.Close()
	}
	if d.tmp != nil {
		d.tmp.Close()
		os.Remove(d.tmp.Name())
	}
}

// writeReplay writes r's events to w in format kind; pf is the perfetto
// writer's result.
func writeReplay(kind string, r *replay.Reader, w io.Writer, po analyze.PerfettoOptions) (n int64, pf *analyze.PerfettoResult, err error) {
	switch kind {
	case "text":
		n, err = replay.WriteText(r, w)
	case "json":
		n, err = replay.WriteJSON(r, w)
	case "arrow":
		n, err = replay.WriteArrow(r, w)
	case "parquet":
		n, err = replay.WriteParquet(r, w)
	case "perfetto":
		pf, err = analyze.WritePerfetto(r, w, po)
		if pf != nil {
			n = pf.Events
		}
	}
	return n, pf, err
}
