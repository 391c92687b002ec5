package dataset

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// takeInt64 copies the rows idx of integer array a (all rows when idx is
// nil) widened to int64; uint64 values keep their bit pattern.
func takeInt64(a arrow.Array, idx []int32) (arrow.Array, error) {
	if idx == nil && sameLayout(a.DataType(), i64) {
		return take(a, i64, nil)
	}
	n := a.Len()
	if idx != nil {
		n = len(idx)
	}
	valid, nulls := takeValidity(a, idx, n)
	var out []int64
	switch a := a.(type) {
	case *array.Int8:
		out = widen(a.Int8Values(), idx, n)
	case *array.Int16:
		out = widen(a.Int16Values(), idx, n)
	case *array.Int32:
		out = widen(a.Int32Values(), idx, n)
	case *array.Int64:
		out = widen(a.Int64Values(), idx, n)
	case *array.Uint8:
		out = widen(a.Uint8Values(), idx, n)
	case *array.Uint16:
		out = widen(a.Uint16Values(), idx, n)
	case *array.Uint32:
		out = widen(a.Uint32Values(), idx, n)
	case *array.Uint64:
		out = widen(a.Uint64Values(), idx, n)
	default:
		return nil, fmt.Errorf("dataset: %s is not an integer column", a.DataType())
	}
	return build(i64, n, nulls, valid, memory.NewBufferBytes(asBytes(out))), nil
}

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

func widen[T integer](src []T, idx []int32, n int) []int64 {
	out := make([]int64, n)
	if idx == nil {
		for i, v := range src[:n] {
			out[i] = int64(v)
		}
		return out
	}
	for i, j := range idx {
		out[i] = int64(src[j])
	}
	return out
}

// take copies the rows idx of a (all rows when idx is nil) into a new array
// of type dt, which must have a's physical layout (the same width for fixed
// types, so uint64 ts become int64 without conversion).
func take(a arrow.Array, dt arrow.DataType, idx []int32) (arrow.Array, error) {
	n := a.Len()
	if idx != nil {
		n = len(idx)
	}
	d := a.Data()
	if idx == nil && sameLayout(a.DataType(), dt) {
		// Every row, same physical layout: share the buffers.
		if dict, ok := a.(*array.Dictionary); ok {
			return array.NewDictionaryArray(dt, dict.Indices(), dict.Dictionary()), nil
		}
		nd := array.NewData(dt, n, d.Buffers(), nil, d.NullN(), d.Offset())
		defer nd.Release()
		return array.MakeFromData(nd), nil
	}
	valid, nulls := takeValidity(a, idx, n)
	switch a := a.(type) {
	case *array.Dictionary:
		ind, err := take(a.Indices(), a.Indices().DataType(), idx)
		if err != nil {
			return nil, err
		}
		defer ind.Release()
		out := array.NewDictionaryArray(dt, ind, a.Dictionary())
		return out, nil
	case *array.String:
		offs, data := takeVar(n, idx, a.ValueOffsets(), a.ValueBytes(), a.IsValid)
		return build(dt, n, nulls, valid, memory.NewBufferBytes(i32Bytes(offs)), memory.NewBufferBytes(data)), nil
	case *array.Binary:
		offs, data := takeVar(n, idx, a.ValueOffsets(), a.ValueBytes(), a.IsValid)
		return build(dt, n, nulls, valid, memory.NewBufferBytes(i32Bytes(offs)), memory.NewBufferBytes(data)), nil
	}
	w := 0
	if fw, ok := a.DataType().(arrow.FixedWidthDataType); ok && len(d.Buffers()) == 2 {
		w = fw.BitWidth() / 8
	}
	if w == 0 || w*8 != dt.(arrow.FixedWidthDataType).BitWidth() {
		return nil, fmt.Errorf("dataset: cannot copy a %s column as %s", a.DataType(), dt)
	}
	src := d.Buffers()[1].Bytes()[d.Offset()*w:]
	var out []byte
	switch w {
	case 1:
		out = takeFixed(src, idx, n)
	case 2:
		out = u16Bytes(takeFixed(bytesAs[uint16](src), idx, n))
	case 4:
		out = u32Bytes(takeFixed(bytesAs[uint32](src), idx, n))
	case 8:
		out = u64Bytes(takeFixed(bytesAs[uint64](src), idx, n))
	default:
		return nil, fmt.Errorf("dataset: cannot copy a %s column", a.DataType())
	}
	return build(dt, n, nulls, valid, memory.NewBufferBytes(out)), nil
}

func build(dt arrow.DataType, n, nulls int, valid []byte, bufs ...*memory.Buffer) arrow.Array {
	var vb *memory.Buffer
	if nulls > 0 {
		vb = memory.NewBufferBytes(valid)
	}
	d := array.NewData(dt, n, append([]*memory.Buffer{vb}, bufs...), nil, nulls, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

// takeValidity returns the validity bitmap of the taken rows and their
// null count (nil, 0 without nulls).
func takeValidity(a arrow.Array, idx []int32, n int) ([]byte, int) {
	if a.NullN() == 0 {
		return nil, 0
	}
	valid := make([]byte, bitutil.BytesForBits(int64(n)))
	nulls := 0
	for i := 0; i < n; i++ {
		j := i
		if idx != nil {
			j = int(idx[i])
		}
		if a.IsValid(j) {
			bitutil.SetBit(valid, i)
		} else {
			nulls++
		}
	}
	return valid, nulls
}

func takeFixed[T any](src []T, idx []int32, n int) []T {
	out := make([]T, n)
	if idx == nil {
		copy(out, src[:n])
		return out
	}
	for i, j := range idx {
		out[i] = src[j]
	}
	return out
}

// takeVar gathers variable-width values; nulls become empty values.
func takeVar(n int, idx []int32, offs []int32, data []byte, valid func(int) bool) ([]int32, []byte) {
	out := make([]int32, n+1)
	size := 0
	for i := 0; i < n; i++ {
		j := i
		if idx != nil {
			j = int(idx[i])
		}
		if valid(j) {
			size += int(offs[j+1] - offs[j])
		}
	}
	buf := make([]byte, 0, size)
	base := offs[0]
	for i := 0; i < n; i++ {
		j := i
		if idx != nil {
			j = int(idx[i])
		}
		if valid(j) {
			buf = append(buf, data[offs[j]-base:offs[j+1]-base]...)
		}
		out[i+1] = int32(len(buf))
	}
	return out, buf
}

func bytesAs[T any](b []byte) []T {
	var z T
	sz := int(unsafe.Sizeof(z))
	if len(b) < sz {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/sz)
}

func asBytes[T any](v []T) []byte {
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(z)))
}

func i32Bytes(v []int32) []byte  { return asBytes(v) }
func u16Bytes(v []uint16) []byte { return asBytes(v) }
func u32Bytes(v []uint32) []byte { return asBytes(v) }
func u64Bytes(v []uint64) []byte { return asBytes(v) }

// sameLayout reports whether arrays of type from are valid arrays of type
// to as they are: the same type, integers of one width (uint64 time as
// int64), or dictionaries with such indices.
func sameLayout(from, to arrow.DataType) bool {
	if arrow.TypeEqual(from, to) {
		return true
	}
	if fd, ok := from.(*arrow.DictionaryType); ok {
		td, ok := to.(*arrow.DictionaryType)
		return ok && arrow.TypeEqual(fd.ValueType, td.ValueType) && sameLayout(fd.IndexType, td.IndexType)
	}
	fw, ok1 := from.(arrow.FixedWidthDataType)
	tw, ok2 := to.(arrow.FixedWidthDataType)
	return ok1 && ok2 && arrow.IsInteger(from.ID()) && arrow.IsInteger(to.ID()) && fw.BitWidth() == tw.BitWidth()
}
