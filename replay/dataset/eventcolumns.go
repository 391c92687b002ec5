package dataset

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow/array"
)

// commDictionary makes the comm column's Parquet dictionary: the reader's
// comm dictionary without repeated values (a null entry reads as ""), and
// for each of its indices the index into the result.
func commDictionary(d *array.String) (vals []string, remap []int32) {
	first := make(map[string]int32, d.Len())
	remap = make([]int32, d.Len())
	for i := 0; i < d.Len(); i++ {
		s := d.Value(i)
		j, ok := first[s]
		if !ok {
			j = int32(len(vals))
			first[s] = j
			vals = append(vals, s)
		}
		remap[i] = j
	}
	return vals, remap
}

// writeColumn writes one column of row group g.
func (o *sourceOut) writeColumn(sp colSpec, c *colData, g *rowGroup) error {
	var def []int16
	if sp.nullable {
		def = c.def
	}
	switch sp.kind {
	case kindTraceID:
		if cap(o.sc.zeros) < g.n {
			o.sc.zeros = make([]int32, g.n)
		}
		return o.pc.WriteDict([]string{o.id}, o.sc.zeros[:g.n], nil, g.n)
	case kindTime:
		o.sc.def, o.sc.times = o.sc.def[:0], o.sc.times[:0]
		defined := int16(0)
		if o.wall != 0 {
			defined = 1
			for _, t := range g.cols[1].i64 {
				o.sc.times = append(o.sc.times, (t+o.wall)/1000)
			}
		}
		for range g.n {
			o.sc.def = append(o.sc.def, defined)
		}
		return o.pc.WriteInt64(o.sc.times, o.sc.def, g.n)
	case kindTS, kindInt64:
		return o.pc.WriteInt64(c.i64, def, g.n)
	case kindInt32:
		return o.pc.WriteInt32(c.i32, def, g.n)
	case kindComm:
		o.sc.idx = o.sc.idx[:0]
		for i, j := range c.i32 {
			if def[i] == 0 {
				continue
			}
			if j < 0 || int(j) >= len(o.commMap) {
				return fmt.Errorf("row %d: bad comm index %d", i, j)
			}
			o.sc.idx = append(o.sc.idx, o.commMap[j])
		}
		return o.pc.WriteDict(o.commVals, o.sc.idx, def, g.n)
	case kindBytes:
		return o.pc.WriteBytes(c.data, c.ends, def, g.n)
	}
	return fmt.Errorf("unknown column kind %d", sp.kind)
}
