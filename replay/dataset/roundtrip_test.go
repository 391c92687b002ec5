package dataset

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
	"github.com/kpcap/kpcap/replay/internal/bysource"
)

// cell renders row i of a as text, integers as int64 (the dataset widens
// every integer to int64, uint64 keeping its bit pattern), nulls as "∅".
func cell(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "∅"
	}
	switch a := a.(type) {
	case *array.Dictionary:
		return cell(a.Dictionary(), a.GetValueIndex(i))
	case *array.String:
		return strconv.Quote(a.Value(i))
	case *array.Binary:
		return hex.EncodeToString(a.Value(i))
	case *array.Timestamp:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int8:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Uint8:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Uint32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	}
	return a.ValueStr(i)
}

// readEvents reads one events file back with pqarrow, every row rendered
// as "col=value" cells in the file's column order.
func readEvents(t *testing.T, path string) []string {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 4096)
	defer tr.Release()
	var rows []string
	for tr.Next() {
		rec := tr.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			var b strings.Builder
			for c := 0; c < int(rec.NumCols()); c++ {
				fmt.Fprintf(&b, "%s=%s ", rec.ColumnName(c), cell(rec.Column(c), i))
			}
			rows = append(rows, b.String())
		}
	}
	return rows
}

// Every cell of every events file equals what the replay Reader returns
// for the trace: the common columns, the wall-clock time and each source's
// own fields, nulls included, in the Reader's order.
func TestExportRoundTrip(t *testing.T) {
	for _, s := range append(slices.Clone(samples), rotated) {
		t.Run(filepath.Base(s), func(t *testing.T) { roundTrip(t, s) })
	}
}

// roundTrip exports trace s and compares every cell with the Reader.
func roundTrip(t *testing.T, s string) {
	t.Helper()
	dir := t.TempDir()
	res := export(t, dir, s)
	f, err := format.Open(s)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := replay.NewReader(f, replay.Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	wall := f.Header.Host.WallOffsetNS
	want := map[int][]string{}
	for r.Next() {
		rec := r.Record()
		probe := rec.Column(5).(*array.Dictionary)
		for i := 0; i < int(rec.NumRows()); i++ {
			src := probe.GetValueIndex(i)
			var b strings.Builder
			ts := rec.Column(0).(*array.Uint64).Value(i)
			tm := "∅"
			if wall != 0 {
				tm = strconv.FormatInt((int64(ts)+wall)/1000, 10)
			}
			fmt.Fprintf(&b, "trace_id=%q ts=%d time=%s ", res.TraceID, int64(ts), tm)
			for c, name := range []string{ColCPU, ColPID, ColTID, ColComm} {
				fmt.Fprintf(&b, "%s=%s ", name, cell(rec.Column(c+1), i))
			}
			fmt.Fprintf(&b, "%s=%s ", ColStackID, cell(rec.Column(6), i))
			if rec.ColumnName(7) != replay.ColPeriod {
				t.Fatalf("replay column 7 is %s, want %s", rec.ColumnName(7), replay.ColPeriod)
			}
			fmt.Fprintf(&b, "%s=%s ", ColPeriod, cell(rec.Column(7), i))
			info := r.Sources()[src]
			for c := 0; c < int(rec.NumCols()); c++ {
				for name, fc := range info.Fields {
					if fc == c {
						fmt.Fprintf(&b, "%s=%s ", FieldColumn(name), cell(rec.Column(c), i))
					}
				}
			}
			want[src] = append(want[src], b.String())
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("the trace has no events")
	}
	for src, rows := range want {
		name := f.Header.Sources[src].Name
		p := filepath.Join(dir, filepath.FromSlash(eventsDir(res.Kernel, res.Host, name)), partName(res.TraceID))
		got := readEvents(t, p)
		if len(got) != len(rows) {
			t.Fatalf("%s: %d rows, want %d", name, len(got), len(rows))
		}
		for i := range rows {
			if got[i] != rows[i] {
				t.Fatalf("%s row %d:\n got %s\nwant %s", name, i, got[i], rows[i])
			}
		}
	}
}

// frameLayout writes the samples of samples[1] (kprobes with strings and
// stacks) into a trace of its own frames: frames of 40 samples, each
// frame's samples reordered by order (indices within the frame), then
// moved between frames by swap (frame index pairs exchanging a sample).
func frameLayout(t *testing.T, name string, order func(n int) []int, swap bool) string {
	t.Helper()
	src, err := format.Open(samples[1])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var ss []format.Sample
	it := src.Samples()
	for it.Next() {
		s := *it.Sample()
		s.Raw = append([]byte(nil), s.Raw...)
		s.Callchain = append([]uint64(nil), s.Callchain...)
		ss = append(ss, s)
	}
	if err := it.Err(); err != nil || len(ss) < 200 {
		t.Fatalf("read %s: %v (%d samples)", samples[1], err, len(ss))
	}
	// Equal times in pairs: the stable sort of a frame keeps file order.
	for i := 1; i < len(ss); i += 2 {
		ss[i].Time = ss[i-1].Time
	}
	// Counted samples (a tracepoint passing a count, replay's period): a
	// third of them, one beyond int64 (its bit pattern kept).
	for i := 0; i < len(ss); i += 3 {
		ss[i].Period, ss[i].HasPeriod = uint64(i)*1000+7, true
	}
	ss[3].Period = 1<<63 + 5
	const per = 40
	var frames [][]format.Sample
	for i := 0; i < len(ss); i += per {
		fr := ss[i:min(i+per, len(ss))]
		out := make([]format.Sample, len(fr))
		for k, j := range order(len(fr)) {
			out[k] = fr[j]
		}
		frames = append(frames, out)
	}
	if swap {
		for k := 0; k+1 < len(frames); k += 2 {
			a, b := frames[k], frames[k+1]
			a[len(a)-1], b[0] = b[0], a[len(a)-1]
		}
	}
	p := filepath.Join(t.TempDir(), name+".pcapng.zst")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	h := src.Header
	w, err := format.NewWriter(f, &h, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.AddSymbols(src.Symbols)
	w.AddUserFrames(src.UserFrames)
	for _, c := range src.Comms {
		w.AddComm(c)
	}
	for _, fr := range frames {
		for i := range fr {
			if err := w.WriteSample(&fr[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Frames whose samples are out of time order (sorted by the export as the
// Reader sorts them) and frames that overlap in time (which the Reader
// merges: the by-source pass gives up and the export reads the Reader's
// batches) export cell for cell what the Reader returns.
func TestExportRoundTripFrameOrder(t *testing.T) {
	reverse := func(n int) []int {
		o := make([]int, n)
		for i := range o {
			o[i] = n - 1 - i
		}
		return o
	}
	inOrder := func(n int) []int {
		o := make([]int, n)
		for i := range o {
			o[i] = i
		}
		return o
	}
	for _, tc := range []struct {
		name    string
		order   func(int) []int
		swap    bool
		passErr error
	}{
		{"unsorted", reverse, false, nil},
		{"overlapping", inOrder, true, bysource.ErrUnordered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := frameLayout(t, tc.name, tc.order, tc.swap)
			f, err := format.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := replay.NewReader(f, replay.Options{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			rows := 0
			err = bysource.Pass(r, 2, func(fr *bysource.Frame) error {
				for _, s := range fr.Sources {
					if s != nil {
						rows += s.N
					}
				}
				return nil
			})
			if !errors.Is(err, tc.passErr) || (err == nil && rows == 0) {
				t.Fatalf("by-source pass: %v after %d rows, want %v", err, rows, tc.passErr)
			}
			roundTrip(t, p)
		})
	}
}
