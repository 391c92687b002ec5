package analyze

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// pfSeq is the one packet sequence the export writes.
const pfSeq = 1

// intern returns the iid of an event or annotation name, adding its entry to
// news (InternedData field table) when new. Event and annotation names have
// separate tables but share one iid counter, which Perfetto allows.
func (pw *perfettoWriter) intern(table protowire.Number, name string) uint64 {
	m := pw.events
	if table == pfInternAnnotationNames {
		m = pw.annots
	}
	if id, ok := m[name]; ok {
		return id
	}
	pw.nextIID++
	id := pw.nextIID
	m[name] = id
	pw.news.begin(table)
	pw.news.varint(pfIIDIID, id)
	pw.news.str(pfIIDName, name)
	pw.news.end()
	return id
}

// flushNews writes the pending interned entries as the open packet's
// InternedData.
func (pw *perfettoWriter) flushNews() {
	if len(pw.news.b) == 0 {
		return
	}
	pw.out.begin(pfPacketInternedData)
	pw.out.b = append(pw.out.b, pw.news.b...)
	pw.out.end()
	pw.news.b = pw.news.b[:0]
}

// startEvent opens a TracePacket at ts and its TrackEvent, which the caller
// fills in pw.out and endEvent closes.
func (pw *perfettoWriter) startEvent(ts uint64, typ uint64, track uint64) *pbuf {
	p := &pw.out
	p.begin(pfTracePacket)
	p.varint(pfPacketTimestamp, ts)
	p.varint(pfPacketSequenceID, pfSeq)
	p.varint(pfPacketSequenceFlags, pfSeqNeedsIncrementalState)
	p.begin(pfPacketTrackEvent)
	p.varint(pfEventType, typ)
	p.varint(pfEventTrackUUID, track)
	return p
}

// endEvent closes the event and its packet, adding the interned entries the
// event introduced (field order within a packet does not matter: the
// packet's interned data is read before its event).
func (pw *perfettoWriter) endEvent() {
	p := &pw.out
	p.end()
	pw.flushNews()
	p.end()
	if len(p.b) >= perfettoFlush {
		pw.write()
	}
}

// write sends the buffered packets to the output; the first error sticks.
func (pw *perfettoWriter) write() {
	if pw.err != nil || len(pw.out.b) == 0 {
		return
	}
	n, err := pw.w.Write(pw.out.b)
	pw.res.Bytes += int64(n)
	if err != nil {
		pw.err = fmt.Errorf("write perfetto trace: %w", err)
	}
	pw.out.b = pw.out.b[:0]
}

// descriptor writes a TrackDescriptor packet; body fills the descriptor.
func (pw *perfettoWriter) descriptor(ts, uuid, parent uint64, name string, body func(p *pbuf)) {
	p := &pw.out
	p.begin(pfTracePacket)
	p.varint(pfPacketTimestamp, ts)
	p.varint(pfPacketSequenceID, pfSeq)
	p.begin(pfPacketTrackDescriptor)
	p.varint(pfTrackUUID, uuid)
	if parent != 0 {
		p.varint(pfTrackParentUUID, parent)
	}
	if name != "" {
		p.str(pfTrackName, name)
	}
	if body != nil {
		body(p)
	}
	p.end()
	p.end()
}

// instant writes event i as an instant on track.
func (pw *perfettoWriter) instant(ts, track, name uint64, i int, ps *pfSource, stack int64, unmatched bool) {
	e := pw.startEvent(ts, pfTypeInstant, track)
	e.varint(pfEventNameIID, name)
	pw.annotations(e, i, ps, 0)
	if unmatched {
		boolAnnotation(e, pw.annot.unmatched)
	}
	pw.callstack(e, stack)
	pw.endEvent()
	pw.res.Instants++
}
