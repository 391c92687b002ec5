package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxPartValue bounds an escaped partition value, well below the 255-byte
// file name limit of common file systems with the "key=" prefix.
const maxPartValue = 160

// PartitionValue escapes v for a hive partition directory "key=VALUE" the
// way Hive and Spark do: every byte outside [A-Za-z0-9._+-] becomes %XX
// (upper-case hex), which DuckDB, Spark and Trino decode back. An empty
// value is "unknown". A value whose escaped form is longer than 160 bytes
// (hostile or odd metadata) is cut and ends in "~" and 16 hex digits of its
// SHA-256, so that distinct values stay distinct.
func PartitionValue(v string) string {
	if v == "" {
		return "unknown"
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '+', c == '-':
			b.WriteByte(c)
		default:
			const hexd = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	s := b.String()
	// "." and ".." would not be directories of their own.
	if s == "." || s == ".." {
		s = strings.ReplaceAll(s, ".", "%2E")
	}
	if len(s) > maxPartValue {
		sum := sha256.Sum256([]byte(v))
		cut := s[:maxPartValue-17]
		// Never cut an escape in half.
		if i := strings.LastIndexByte(cut, '%'); i >= len(cut)-2 {
			cut = cut[:i]
		}
		s = cut + "~" + hex.EncodeToString(sum[:8])
	}
	return s
}

// eventsDir is the partition directory of a trace's source, relative to
// the dataset root.
func eventsDir(kernel, host, source string) string {
	return TableEvents + "/" + PartKernel + "=" + PartitionValue(kernel) + "/" + PartHost + "=" + PartitionValue(host) + "/" + PartSource + "=" + PartitionValue(source)
}
