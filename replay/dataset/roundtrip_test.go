package dataset

import (
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
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
	for _, s := range samples {
		t.Run(filepath.Base(s), func(t *testing.T) {
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
		})
	}
}
