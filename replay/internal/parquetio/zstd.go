package parquetio

import (
	"sync"

	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// sharedZstd is the Parquet zstd codec with one encoder per level shared by
// every page: arrow's codec builds a new encoder (and its window buffers)
// for each page it compresses, which made small files (a dataset export of
// many short traces writes thousands) spend most of their time allocating.
// zstd.Encoder.EncodeAll is safe for concurrent use.
type sharedZstd struct {
	compress.Codec
	mu   sync.Mutex
	encs map[int]*zstd.Encoder
}

func init() {
	if c, err := compress.GetCodec(compress.Codecs.Zstd); err == nil {
		compress.RegisterCodec(compress.Codecs.Zstd, &sharedZstd{Codec: c, encs: map[int]*zstd.Encoder{}})
	}
}

// EncodeLevel compresses src as arrow's codec does (zero-length input
// gives an empty frame; the default level is zstd's default speed).
func (z *sharedZstd) EncodeLevel(dst, src []byte, level int) []byte {
	z.mu.Lock()
	enc := z.encs[level]
	if enc == nil {
		l := zstd.EncoderLevelFromZstd(level)
		if level == compress.DefaultCompressionLevel {
			l = zstd.SpeedDefault
		}
		var err error
		enc, err = zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(l))
		if err != nil {
			z.mu.Unlock()
			return z.Codec.EncodeLevel(dst, src, level)
		}
		z.encs[level] = enc
	}
	z.mu.Unlock()
	return enc.EncodeAll(src, dst[:0])
}
