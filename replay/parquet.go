package replay

import (
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/kpcap/kpcap/replay/internal/parquetio"
)

// parquetLayout keeps min/max statistics on the common columns queries
// prune on and delta-encodes the times, which grow.
var parquetLayout = parquetio.Layout{Stats: []string{ColTS, ColCPU, ColPID, ColTID}, Delta: []string{ColTS}}

// writeParquet writes every record of src to w as one Parquet file.
func writeParquet(sc *arrow.Schema, w io.Writer, src recordSource) (int64, error) {
	pw, err := parquetio.NewWriter(sc, w, parquetLayout)
	if err != nil {
		return 0, fmt.Errorf("parquet writer: %w", err)
	}
	return drain(src, pw.Write, pw.Close, "parquet")
}
