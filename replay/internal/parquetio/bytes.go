package parquetio

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/apache/arrow/go/v17/parquet"
)

// WriteBytes writes the next column, a string or binary column: data holds
// the defined values back to back, ends[i] the end of value i in data, def
// one level per row (nil for a required column). A column the writer
// properties dictionary-encode (strings of schemas up to maxDictColumns
// wide) is written as a dictionary while its distinct values fit the
// dictionary page limit, else, like binary columns, PLAIN.
func (p *Columns) WriteBytes(data []byte, ends []uint32, def []int16, rows int) error {
	c, err := p.next(def, rows)
	if err != nil {
		return err
	}
	if c.descr.PhysicalType() != parquet.Types.ByteArray {
		return fmt.Errorf("parquet: column %s is not a byte array column", c.descr.Name())
	}
	if len(ends) > 0 && int(ends[len(ends)-1]) > len(data) {
		return fmt.Errorf("parquet: column %s: values end at %d of %d bytes", c.descr.Name(), ends[len(ends)-1], len(data))
	}
	value := func(i int) []byte {
		start := uint32(0)
		if i > 0 {
			start = ends[i-1]
		}
		return data[start:ends[i]]
	}
	if p.props.DictionaryEnabledFor(c.descr.Path()) {
		if dict, idx, ok := p.dictionary(len(ends), value); ok {
			err = c.writeDictionary(dict, idx, def, rows)
			if err != nil {
				return err
			}
			return c.finish(nil, rows)
		}
	}
	// Pages of about parquetPageBytes: rows in proportion to the bytes.
	per := rows
	if sz := len(data) + 4*len(ends); sz > parquetPageBytes {
		per = max(1024, int(int64(rows)*parquetPageBytes/int64(sz)))
	}
	err = c.writePages(def, rows, per, func(dst []byte, lo, hi int) []byte {
		for i := lo; i < hi; i++ {
			v := value(i)
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
			dst = append(dst, v...)
		}
		return dst
	})
	if err != nil {
		return err
	}
	return c.finish(nil, rows)
}

// dictionary returns the distinct values of n values (PLAIN-encoded, as a
// dictionary page holds them) and each value's index among them, or false
// when they would pass the dictionary page limit.
func (p *Columns) dictionary(n int, value func(int) []byte) (dict []byte, idx []int32, ok bool) {
	limit := int(p.props.DictionaryPageSizeLimit())
	seen := make(map[string]int32)
	idx = p.idx[:0]
	for i := 0; i < n; i++ {
		v := value(i)
		j, found := seen[string(v)]
		if !found {
			if len(dict)+4+len(v) > limit {
				return nil, nil, false
			}
			j = int32(len(seen))
			seen[string(v)] = j
			dict = binary.LittleEndian.AppendUint32(dict, uint32(len(v)))
			dict = append(dict, v...)
		}
		idx = append(idx, j)
	}
	p.idx = idx
	p.entries = len(seen)
	return dict, idx, true
}

// writeDictionary writes a dictionary page of p.entries PLAIN values and
// the rows as RLE_DICTIONARY indices idx (one per defined row).
func (c *chunkWriter) writeDictionary(dict []byte, idx []int32, def []int16, rows int) error {
	p := c.p
	if err := c.writePage(pageDict, p.entries, p.props.DictionaryPageEncoding(), dict); err != nil {
		return err
	}
	c.enc = p.props.DictionaryIndexEncoding()
	width := 1
	if p.entries > 1 {
		width = bits.Len32(uint32(p.entries - 1))
	}
	return c.writePages(def, rows, pageRows(4), func(dst []byte, lo, hi int) []byte {
		return appendHybrid(append(dst, byte(width)), idx[lo:hi], width)
	})
}
