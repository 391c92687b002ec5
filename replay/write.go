package replay

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/kpcap/kpcap/format"
)

// WriteArrow writes every remaining batch of r to w as one Arrow IPC file
// (the random-access "file" format) and returns the number of rows written.
func WriteArrow(r *Reader, w io.Writer) (int64, error) {
	return writeIPC(r.Schema(), w, r)
}

type recordSource interface {
	Next() bool
	Record() arrow.Record
	Err() error
}

func writeIPC(schema *arrow.Schema, w io.Writer, src recordSource) (int64, error) {
	ws, ok := w.(io.WriteSeeker)
	if !ok {
		ws = &countingWriter{w: w}
	}
	fw, err := ipc.NewFileWriter(ws, ipc.WithSchema(schema))
	if err != nil {
		return 0, fmt.Errorf("arrow writer: %w", err)
	}
	return drain(src, fw.Write, fw.Close, "arrow")
}

// drain writes every record of src, then closes the file writer (also on
// failure); kind names the format in errors. It returns the rows written.
func drain(src recordSource, write func(arrow.Record) error, close func() error, kind string) (int64, error) {
	var n int64
	for src.Next() {
		rec := src.Record()
		if err := write(rec); err != nil {
			close()
			return n, fmt.Errorf("write %s batch: %w", kind, err)
		}
		n += rec.NumRows()
	}
	if err := src.Err(); err != nil {
		close()
		return n, err
	}
	if err := close(); err != nil {
		return n, fmt.Errorf("close %s file: %w", kind, err)
	}
	return n, nil
}

// countingWriter lets the IPC writer, which only asks for its current
// position, write to pipes and buffers.
type countingWriter struct {
	w   io.Writer
	pos int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.pos += int64(n)
	return n, err
}

func (c *countingWriter) Seek(off int64, whence int) (int64, error) {
	if off == 0 && whence == io.SeekCurrent {
		return c.pos, nil
	}
	return c.pos, fmt.Errorf("arrow output: cannot seek")
}

// WriteParquet writes every remaining batch of r to w as one zstd-compressed
// Parquet file and returns the number of rows written.
func WriteParquet(r *Reader, w io.Writer) (int64, error) {
	return writeParquet(r.Schema(), w, r)
}

// oneRecord yields a single record.
type oneRecord struct {
	rec  arrow.Record
	done bool
}

func (o *oneRecord) Next() bool           { d := o.done; o.done = true; return !d }
func (o *oneRecord) Record() arrow.Record { return o.rec }
func (o *oneRecord) Err() error           { return nil }

// WriteStacksArrow writes the stacks table (StacksSchema) to w as an Arrow IPC file.
func WriteStacksArrow(r *Reader, w io.Writer) (int64, error) {
	rows := newStackRows(r, stackBatchRows)
	defer rows.release()
	return writeIPC(StacksSchema, w, rows)
}

// WriteStacksParquet writes the stacks table (StacksSchema) to w as Parquet.
func WriteStacksParquet(r *Reader, w io.Writer) (int64, error) {
	rows := newStackRows(r, stackBatchRows)
	defer rows.release()
	return writeParquet(StacksSchema, w, rows)
}

// TraceStart returns the start of the capture (ns on the capture clock): the
// earliest start in the file's statistics, which the recorder takes before the
// first sample, else the first sample's time; 0 if unknown. Relative
// --since/--until count from it, in kpcap replay and kpcap analyze alike.
func TraceStart(f *format.File) uint64 {
	var start uint64
	for _, fr := range f.Frames {
		if fr.Samples > 0 && fr.FirstNS != 0 && (start == 0 || fr.FirstNS < start) {
			start = fr.FirstNS
		}
	}
	for _, s := range f.Stats {
		if s.StartNS != 0 && (start == 0 || s.StartNS < start) {
			start = s.StartNS
		}
	}
	return start
}

// ParseTime parses a --since/--until value: a duration relative to start
// ("2s", "1.5s", "250ms", "1m30s") or an absolute time in ns on the capture
// clock (a bare integer, e.g. "123456789000"). An absolute time before
// start is an error: it is nearly always seconds written without a unit,
// which would otherwise select the whole trace without a word.
func ParseTime(s string, start uint64) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty time")
	}
	if v, err := strconv.ParseUint(s, 10, 64); err == nil {
		if v < start {
			return 0, fmt.Errorf("%s ns on the capture clock is before the trace starts (at %d ns); for an offset from the start give a unit: %ss", s, start, s)
		}
		return v, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad time %q: want a duration from the trace start (2s, 1.5s, 300ms) or absolute ns", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("bad time %q: negative", s)
	}
	return start + uint64(d), nil
}
