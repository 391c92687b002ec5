// Package parquetio writes the Parquet files of replay and replay/dataset:
// Writer from Arrow records, Columns a whole column chunk at a time. Both
// give the same schema a byte-identical choice of types, encodings and
// statistics, set by the caller's Layout.
package parquetio

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
)

// Layout names the columns whose storage the caller's schema decides: the
// package knows no column names, so each table's owner keeps its own.
type Layout struct {
	// Stats are the columns that keep min/max statistics: those queries
	// prune on. The others skip them (a fifth of the write time on
	// sparse columns).
	Stats []string
	// Delta are integer columns encoded DELTA_BINARY_PACKED (times, which
	// grow); timestamp columns always are.
	Delta []string
}

// maxDictColumns is the most columns a Parquet file dictionary-encodes
// its string fields at: each dictionary keeps a hash table per column
// (tens of KB), which thousands of columns of a wide schema multiply into
// hundreds of MB; past it only dictionary columns keep theirs.
const maxDictColumns = 1024

// Properties returns the writer properties of a file of schema sc.
func (l Layout) Properties(sc *arrow.Schema) *parquet.WriterProperties {
	return parquet.NewWriterProperties(l.options(sc)...)
}

// options are zstd compression and, beside l's statistics and delta
// columns, dictionary encoding for string columns (comm, probe, names: few
// distinct values) but not numbers, where it mostly costs time.
func (l Layout) options(sc *arrow.Schema) []parquet.WriterProperty {
	opts := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithDataPageSize(128 << 10),
		parquet.WithMaxRowGroupLength(1 << 20),
		parquet.WithDictionaryDefault(false),
		parquet.WithStats(false),
	}
	for _, c := range l.Stats {
		opts = append(opts, parquet.WithStatsFor(c, true))
	}
	for _, c := range l.Delta {
		opts = append(opts, parquet.WithEncodingFor(c, parquet.Encodings.DeltaBinaryPacked))
	}
	wide := sc.NumFields() > maxDictColumns
	for _, f := range sc.Fields() {
		switch f.Type.ID() {
		case arrow.TIMESTAMP:
			opts = append(opts, parquet.WithEncodingFor(f.Name, parquet.Encodings.DeltaBinaryPacked))
		case arrow.STRING:
			if !wide {
				opts = append(opts, parquet.WithDictionaryFor(f.Name, true))
			}
		case arrow.DICTIONARY:
			opts = append(opts, parquet.WithDictionaryFor(f.Name, true))
		}
	}
	return opts
}
