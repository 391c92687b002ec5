package replay

import (
	"context"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

type colExpect struct {
	Name    string `json:"name"`
	Arrow   string `json:"arrow"`
	Duck    string `json:"duck"`
	NonNull int64  `json:"nonNull"`
	Sum     string `json:"sum"`
}

// jsArrowType and duckType name a column type as apache-arrow (JS) and DuckDB print it.
func jsArrowType(t arrow.DataType) string {
	switch t.ID() {
	case arrow.STRING:
		return "Utf8"
	case arrow.BINARY:
		return "Binary"
	case arrow.BOOL:
		return "Bool"
	case arrow.DICTIONARY:
		return "Dictionary<Int32, Utf8>"
	}
	names := map[arrow.Type]string{arrow.UINT8: "Uint8", arrow.UINT16: "Uint16", arrow.UINT32: "Uint32", arrow.UINT64: "Uint64",
		arrow.INT8: "Int8", arrow.INT16: "Int16", arrow.INT32: "Int32", arrow.INT64: "Int64"}
	return names[t.ID()]
}

func duckType(t arrow.DataType) string {
	names := map[arrow.Type]string{arrow.UINT8: "UTINYINT", arrow.UINT16: "USMALLINT", arrow.UINT32: "UINTEGER", arrow.UINT64: "UBIGINT",
		arrow.INT8: "TINYINT", arrow.INT16: "SMALLINT", arrow.INT32: "INTEGER", arrow.INT64: "BIGINT",
		arrow.STRING: "VARCHAR", arrow.DICTIONARY: "VARCHAR", arrow.BINARY: "BLOB", arrow.BOOL: "BOOLEAN"}
	return names[t.ID()]
}

// expectations computes, from the Go reader, per-column non-null counts and
// sums (byte lengths for strings) that the independent readers must match.
func expectations(t *testing.T, trace string) (rows int64, cols []colExpect) {
	r, err := Open(trace, Options{BatchSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	schema := r.Schema()
	sums := make([]*big.Int, schema.NumFields())
	nonNull := make([]int64, schema.NumFields())
	for i := range sums {
		sums[i] = new(big.Int)
	}
	for r.Next() {
		rec := r.Record()
		rows += rec.NumRows()
		for ci, a := range rec.Columns() {
			for i := 0; i < a.Len(); i++ {
				if a.IsNull(i) {
					continue
				}
				nonNull[ci]++
				var v big.Int
				switch x := a.(type) {
				case *array.Uint8:
					v.SetUint64(uint64(x.Value(i)))
				case *array.Uint16:
					v.SetUint64(uint64(x.Value(i)))
				case *array.Uint32:
					v.SetUint64(uint64(x.Value(i)))
				case *array.Uint64:
					v.SetUint64(x.Value(i))
				case *array.Int8:
					v.SetInt64(int64(x.Value(i)))
				case *array.Int16:
					v.SetInt64(int64(x.Value(i)))
				case *array.Int32:
					v.SetInt64(int64(x.Value(i)))
				case *array.Int64:
					v.SetInt64(x.Value(i))
				case *array.String:
					v.SetInt64(int64(len(x.Value(i))))
				case *array.Binary:
					v.SetInt64(int64(len(x.Value(i))))
				case *array.Dictionary:
					v.SetInt64(int64(len(x.Dictionary().(*array.String).Value(x.GetValueIndex(i)))))
				}
				sums[ci].Add(sums[ci], &v)
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	for i, f := range schema.Fields() {
		cols = append(cols, colExpect{Name: f.Name, Arrow: jsArrowType(f.Type), Duck: duckType(f.Type), NonNull: nonNull[i], Sum: sums[i].String()})
	}
	return rows, cols
}

func writeOutputs(t *testing.T, trace, dir string) (arrowPath, pqPath string, stackRows int64) {
	arrowPath = filepath.Join(dir, "out.arrow")
	pqPath = filepath.Join(dir, "out.parquet")
	for _, o := range []struct {
		path  string
		write func(*Reader, *os.File) (int64, error)
		stack func(*Reader, *os.File) (int64, error)
	}{
		{arrowPath, func(r *Reader, f *os.File) (int64, error) { return WriteArrow(r, f) }, func(r *Reader, f *os.File) (int64, error) { return WriteStacksArrow(r, f) }},
		{pqPath, func(r *Reader, f *os.File) (int64, error) { return WriteParquet(r, f) }, func(r *Reader, f *os.File) (int64, error) { return WriteStacksParquet(r, f) }},
	} {
		r, err := Open(trace, Options{BatchSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(o.path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.write(r, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		sf, err := os.Create(o.path + ".stacks")
		if err != nil {
			t.Fatal(err)
		}
		if stackRows, err = o.stack(r, sf); err != nil {
			t.Fatal(err)
		}
		sf.Close()
		r.Close()
	}
	return arrowPath, pqPath, stackRows
}

// goRead reads both outputs back with the Go libraries.
func goRead(t *testing.T, arrowPath, pqPath string) (arrowRows, pqRows int64) {
	f, err := os.Open(arrowPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fr, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < fr.NumRecords(); i++ {
		rec, err := fr.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		arrowRows += rec.NumRows()
	}
	fr.Close()
	pf, err := file.OpenParquetFile(pqPath, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	ar, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := ar.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	return arrowRows, tbl.NumRows()
}

func nodeModules() string {
	dir := os.Getenv("KPCAP_CACHE")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "kpcap")
	}
	return filepath.Join(dir, "node", "node_modules")
}

func TestOutputsIndependentReaders(t *testing.T) {
	// The golden trace has every field kind and a stack; the medium one has
	// several frames and many batches.
	traces := map[string]string{"golden": goldenTrace(t), "medium": benchTrace(t, 200_000)}
	nodeOK := true
	node, err := exec.LookPath("node")
	if err != nil {
		nodeOK = false
	}
	mods := nodeModules()
	for _, m := range []string{"apache-arrow", "@duckdb/node-api"} {
		if _, err := os.Stat(filepath.Join(mods, m)); err != nil {
			nodeOK = false
		}
	}
	for name, trace := range traces {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			rows, cols := expectations(t, trace)
			ap, pp, stackRows := writeOutputs(t, trace, out)
			ar, pr := goRead(t, ap, pp)
			if ar != rows || pr != rows {
				t.Fatalf("rows: arrow %d parquet %d, want %d", ar, pr, rows)
			}
			requireCI(t, nodeOK, "node with apache-arrow and @duckdb/node-api in "+mods+" is needed (see .ci/run)")
			exp := map[string]any{"arrow": ap, "parquet": pp, "rows": rows, "columns": cols,
				"stacks": map[string]any{"arrow": ap + ".stacks", "parquet": pp + ".stacks", "rows": stackRows}}
			b, _ := json.Marshal(exp)
			expPath := filepath.Join(out, "expected.json")
			if err := os.WriteFile(expPath, b, 0o644); err != nil {
				t.Fatal(err)
			}
			// ES modules ignore NODE_PATH: run the script from a directory
			// whose node_modules points at the installed packages.
			run := t.TempDir()
			if err := os.Symlink(mods, filepath.Join(run, "node_modules")); err != nil {
				t.Fatal(err)
			}
			script, err := os.ReadFile(filepath.Join("testdata", "check_outputs.mjs"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(run, "check_outputs.mjs"), script, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(node, filepath.Join(run, "check_outputs.mjs"), expPath)
			cmd.Dir = run
			outb, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node check failed: %v\n%s", err, outb)
			}
			t.Logf("%s", outb)
			if name != "golden" {
				return
			}
			// The check must be able to fail: a wrong sum is caught.
			cols[0].Sum += "1"
			b, _ = json.Marshal(exp)
			if err := os.WriteFile(expPath, b, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd = exec.Command(node, filepath.Join(run, "check_outputs.mjs"), expPath)
			cmd.Dir = run
			if outb, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(outb), "MISMATCH arrow sum ts") {
				t.Fatalf("node check accepted a wrong sum: %v\n%s", err, outb)
			}
		})
	}
}
