package replay

import (
	"io"

	"github.com/apache/arrow/go/v17/arrow"
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
