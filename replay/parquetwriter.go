package replay

import (
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
)

// ParquetWriter writes Arrow records of one flat schema (integers,
// timestamps, booleans, strings, binary, dictionary<int32, utf8>) to one
// zstd-compressed Parquet file, as WriteParquet does: other packages build
// their own tables (e.g. a dataset export) with the same encoding choices.
type ParquetWriter struct {
	w *parquetWriter
}

// NewParquetWriter starts a Parquet file of schema sc on w. Min/max
// statistics are kept for the columns ts, cpu, pid, tid and statsCols.
func NewParquetWriter(sc *arrow.Schema, w io.Writer, statsCols ...string) (*ParquetWriter, error) {
	pw, err := newParquetWriter(sc, w, statsCols...)
	if err != nil {
		return nil, err
	}
	return &ParquetWriter{w: pw}, nil
}

// Write appends rec, whose schema must equal the file's.
func (p *ParquetWriter) Write(rec arrow.Record) error { return p.w.Write(rec) }

// Close writes the footer; it does not close the underlying writer.
func (p *ParquetWriter) Close() error { return p.w.Close() }

// NewParquetFileWriter starts a Parquet file of schema sc on w with the
// column types, encodings and statistics of NewParquetWriter, compressed
// with zstd at level zstdLevel (1 fastest ... 22; 3 is WriteParquet's),
// for callers that fill row groups themselves through parquet/file's
// typed column writers (AppendRowGroup, NextColumn, WriteBatch) instead
// of handing over Arrow records. Those writers panic on some failures:
// callers recover. Closing the returned writer does not close w.
func NewParquetFileWriter(sc *arrow.Schema, w io.Writer, zstdLevel int, statsCols ...string) (fw *file.Writer, err error) {
	out := &sinkWriter{w: w}
	defer func() {
		if r := recover(); r != nil {
			fw, err = nil, out.err
			if err == nil {
				err = fmt.Errorf("parquet: %v", r)
			}
		}
	}()
	opts := append(parquetOpts(sc, statsCols...), parquet.WithCompressionLevel(zstdLevel))
	return newFileWriter(sc, out, parquet.NewWriterProperties(opts...))
}
