//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm)

package parquetio

import "encoding/binary"

// asBytes returns fixed-size values in Parquet's PLAIN encoding,
// little-endian, which a big-endian machine must byte-swap into.
func asBytes[T int32 | int64](v []T) []byte {
	var out []byte
	for _, x := range v {
		switch any(x).(type) {
		case int32:
			out = binary.LittleEndian.AppendUint32(out, uint32(x))
		default:
			out = binary.LittleEndian.AppendUint64(out, uint64(x))
		}
	}
	return out
}
