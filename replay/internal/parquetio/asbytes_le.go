//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package parquetio

import "unsafe"

// asBytes views fixed-size values as their bytes: on a little-endian
// machine they already are Parquet's PLAIN encoding, so nothing is copied.
func asBytes[T int32 | int64](v []T) []byte {
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(z)))
}
