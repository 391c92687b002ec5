package analyze

import (
	"encoding/hex"

	"github.com/apache/arrow/go/v17/arrow/array"
)

// boolAnnotation appends a true debug annotation called name.
func boolAnnotation(e *pbuf, name uint64) {
	e.begin(pfEventDebugAnnotations)
	e.varint(pfAnnotNameIID, name)
	e.varint(pfAnnotBool, 1)
	e.end()
}

// annotations appends event i's fields as debug annotations (TrackEvent
// field 4) to p: one per field, or one dict named dict holding them.
func (pw *perfettoWriter) annotations(p *pbuf, i int, ps *pfSource, dict uint64) {
	if len(ps.fields) == 0 {
		return
	}
	entry := pfEventDebugAnnotations
	if dict != 0 {
		p.begin(pfEventDebugAnnotations)
		p.varint(pfAnnotNameIID, dict)
		entry = pfAnnotDictEntries
	}
	for _, f := range ps.fields {
		col := pw.cols[f.col]
		if pw.nulls[f.col] && col.IsNull(i) {
			continue
		}
		p.begin(entry)
		p.varint(pfAnnotNameIID, f.name)
		switch x := col.(type) {
		case *array.Uint64:
			p.varint(pfAnnotUint, x.Value(i))
		case *array.Uint32:
			p.varint(pfAnnotUint, uint64(x.Value(i)))
		case *array.Uint16:
			p.varint(pfAnnotUint, uint64(x.Value(i)))
		case *array.Uint8:
			p.varint(pfAnnotUint, uint64(x.Value(i)))
		case *array.Int64:
			p.sint(pfAnnotInt, x.Value(i))
		case *array.Int32:
			p.sint(pfAnnotInt, int64(x.Value(i)))
		case *array.Int16:
			p.sint(pfAnnotInt, int64(x.Value(i)))
		case *array.Int8:
			p.sint(pfAnnotInt, int64(x.Value(i)))
		case *array.String:
			p.str(pfAnnotString, x.Value(i))
		case *array.Binary:
			p.str(pfAnnotString, hex.EncodeToString(x.Value(i)))
		default:
			s, _ := valueString(col, i)
			p.str(pfAnnotString, s)
		}
		p.end()
	}
	if dict != 0 {
		p.end()
	}
}

// callstack appends the interned callstack of a stack id (TrackEvent field
// callstack_iid), interning its frames into news on first use.
func (pw *perfettoWriter) callstack(p *pbuf, id int64) {
	if id < 0 {
		return
	}
	if int(id) >= len(pw.stackSeen) {
		pw.stackSeen = append(pw.stackSeen, make([]bool, int(id)+1-len(pw.stackSeen))...)
	}
	if !pw.stackSeen[id] {
		pw.stackSeen[id] = true
		frames := pw.r.Stack(id)
		ids := make([]uint64, len(frames))
		// Callstack.frame_ids lists the outermost frame first; replay's
		// stacks start at the leaf.
		for k, f := range frames {
			name := f.Name
			if !f.Kernel && f.Module != "" {
				name += " [" + f.Module + "]"
			}
			fid, ok := pw.funcs[name]
			if !ok {
				fid = uint64(len(pw.funcs) + 1)
				pw.funcs[name] = fid
				n := &pw.news
				n.begin(pfInternFunctionNames)
				n.varint(pfStringIID, fid)
				n.str(pfStringStr, name)
				n.end()
				n.begin(pfInternFrames)
				n.varint(pfFrameIID, fid)
				n.varint(pfFrameFunctionName, fid)
				n.end()
			}
			ids[len(frames)-1-k] = fid
		}
		n := &pw.news
		n.begin(pfInternCallstacks)
		n.varint(pfCallstackIID, uint64(id)+1)
		for _, fid := range ids {
			n.varint(pfCallstackFrameIDs, fid)
		}
		n.end()
	}
	p.varint(pfEventCallstackIID, uint64(id)+1)
}
