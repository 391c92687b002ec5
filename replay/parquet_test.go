package replay

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// TestBinaryDeps keeps pqarrow's dependencies (arrow/compute, arrow/flight,
// grpc, protobuf's reflection and registry) out of the kpcap binary: their
// package inits cost every invocation, recording included, milliseconds of
// CPU. The Perfetto export needs only protobuf's wire encoding (protowire and
// the two small internal packages it imports), which is allowed.
func TestBinaryDeps(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		p, err := exec.LookPath("go")
		requireCI(t, err == nil, "the go command is needed to list the binary's dependencies")
		gobin = p
	}
	out, err := exec.Command(gobin, "list", "-deps", "../cmd/kpcap").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ../cmd/kpcap: %v\n%s", err, out)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 50 || !strings.Contains(string(out), "github.com/apache/arrow/go/v17/parquet/file") {
		t.Fatalf("implausible dependency list (%d packages):\n%s", len(pkgs), out)
	}
	wireOnly := map[string]bool{
		"google.golang.org/protobuf/encoding/protowire": true,
		"google.golang.org/protobuf/internal/errors":    true,
		"google.golang.org/protobuf/internal/detrand":   true,
	}
	for _, p := range pkgs {
		if wireOnly[p] {
			continue
		}
		for _, bad := range []string{"arrow/compute", "arrow/flight", "parquet/pqarrow", "google.golang.org/grpc", "google.golang.org/protobuf"} {
			if strings.Contains(p, bad) {
				t.Errorf("kpcap depends on %s", p)
			}
		}
	}
}

// recordList replays recs in order.
type recordList struct {
	recs []arrow.Record
	i    int
}

func (l *recordList) Next() bool           { l.i++; return l.i <= len(l.recs) }
func (l *recordList) Record() arrow.Record { return l.recs[l.i-1] }
func (l *recordList) Err() error           { return nil }

// BenchmarkParquetWrite measures Parquet encoding alone (decoded batches held
// in memory), against pqarrow with the same properties for comparison.
func BenchmarkParquetWrite(b *testing.B) {
	r, err := Open(benchTrace(b, 1_000_000), Options{})
	if err != nil {
		b.Fatal(err)
	}
	var recs []arrow.Record
	var rows int64
	for r.Next() {
		rec := r.Record()
		rec.Retain()
		recs = append(recs, rec)
		rows += rec.NumRows()
	}
	if err := r.Err(); err != nil {
		b.Fatal(err)
	}
	sc := r.Schema()
	r.Close()
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	for _, impl := range []struct {
		name  string
		write func(w io.Writer) error
	}{
		{"kpcap", func(w io.Writer) error {
			_, err := writeParquet(sc, w, &recordList{recs: recs})
			return err
		}},
		{"pqarrow", func(w io.Writer) error {
			fw, err := pqarrow.NewFileWriter(sc, w, parquetLayout.Properties(sc), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
			if err != nil {
				return err
			}
			for _, rec := range recs {
				if err := fw.WriteBuffered(rec); err != nil {
					return err
				}
			}
			return fw.Close()
		}},
	} {
		b.Run(impl.name, func(b *testing.B) {
			var n int64
			for i := 0; i < b.N; i++ {
				cw := &countWriter{}
				if err := impl.write(cw); err != nil {
					b.Fatal(err)
				}
				n = cw.n
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(n), "file-bytes")
		})
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
