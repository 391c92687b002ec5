package analyze

import (
	"errors"
	"fmt"
	"sort"
)

// A minimal protobuf reader written for the tests from the wire format
// spec, independent of the encoder (which uses protowire): it checks the
// export against the field numbers of Perfetto's protos as a consumer sees
// them.

type pbField struct {
	num  uint64
	wire uint64
	v    uint64 // varint and fixed64 values
	b    []byte // length-delimited values
}

func pbVarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("bad varint")
}

func pbParse(b []byte) ([]pbField, error) {
	var out []pbField
	for len(b) > 0 {
		tag, n, err := pbVarint(b)
		if err != nil {
			return nil, err
		}
		b = b[n:]
		f := pbField{num: tag >> 3, wire: tag & 7}
		switch f.wire {
		case 0:
			if f.v, n, err = pbVarint(b); err != nil {
				return nil, err
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return nil, errors.New("short fixed64")
			}
			for i := 7; i >= 0; i-- {
				f.v = f.v<<8 | uint64(b[i])
			}
			b = b[8:]
		case 2:
			l, n, err := pbVarint(b)
			if err != nil {
				return nil, err
			}
			b = b[n:]
			if l > uint64(len(b)) {
				return nil, fmt.Errorf("field %d: length %d beyond %d bytes", f.num, l, len(b))
			}
			f.b, b = b[:l], b[l:]
		case 5:
			if len(b) < 4 {
				return nil, errors.New("short fixed32")
			}
			f.v = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
			b = b[4:]
		default:
			return nil, fmt.Errorf("wire type %d", f.wire)
		}
		out = append(out, f)
	}
	return out, nil
}

// pfEvent is one decoded TrackEvent.
type pfEvent struct {
	pos       int // packet index
	ts        uint64
	typ       uint64
	track     uint64
	name      string
	args      map[string]string // "field" or "entry.field" -> value
	stack     []string          // outermost frame first
	counter   int64
	hasCount  bool
	flags     uint64
	seq       uint64
	unmatched bool
}

type pfTrack struct {
	uuid, parent uint64
	name         string
	pid, tid     int64
	process      bool
	thread       bool
	counter      bool
}

type pfDecoded struct {
	packets   int
	clock     uint64 // default timestamp clock
	primary   uint64
	snapshot  map[uint64]uint64
	events    []pfEvent
	tracks    map[uint64]*pfTrack
	trackPos  map[uint64]int // first descriptor's packet index
	eventName map[uint64]string
	annotName map[uint64]string
	funcName  map[uint64]string
	frames    map[uint64]uint64
	stacks    map[uint64][]uint64
}

func first(fs []pbField, num uint64) (pbField, bool) {
	for _, f := range fs {
		if f.num == num {
			return f, true
		}
	}
	return pbField{}, false
}

// pfDecode reads a Perfetto trace as trace_processor's tokenizer would:
// packets in file order, interned data valid from the packet that holds it.
func pfDecode(data []byte) (*pfDecoded, error) {
	d := &pfDecoded{snapshot: map[uint64]uint64{}, tracks: map[uint64]*pfTrack{}, trackPos: map[uint64]int{},
		eventName: map[uint64]string{}, annotName: map[uint64]string{}, funcName: map[uint64]string{},
		frames: map[uint64]uint64{}, stacks: map[uint64][]uint64{}}
	top, err := pbParse(data)
	if err != nil {
		return nil, fmt.Errorf("Trace: %w", err)
	}
	for pi, pf := range top {
		if pf.num != 1 || pf.wire != 2 {
			return nil, fmt.Errorf("Trace field %d/%d, want packet = 1", pf.num, pf.wire)
		}
		d.packets++
		fs, err := pbParse(pf.b)
		if err != nil {
			return nil, fmt.Errorf("packet %d: %w", pi, err)
		}
		var ev *pfEvent
		var seq, flags, ts uint64
		var hasTS bool
		for _, f := range fs {
			switch f.num {
			case 10:
				seq = f.v
			case 13:
				flags = f.v
			case 8:
				ts, hasTS = f.v, true
			case 59: // trace_packet_defaults
				df, err := pbParse(f.b)
				if err != nil {
					return nil, err
				}
				if c, ok := first(df, 58); ok {
					d.clock = c.v
				}
			case 6: // clock_snapshot
				cf, err := pbParse(f.b)
				if err != nil {
					return nil, err
				}
				for _, c := range cf {
					if c.num == 2 {
						d.primary = c.v
					}
					if c.num == 1 {
						kf, err := pbParse(c.b)
						if err != nil {
							return nil, err
						}
						id, _ := first(kf, 1)
						t, _ := first(kf, 2)
						d.snapshot[id.v] = t.v
					}
				}
			case 12: // interned_data
				if err := d.intern(f.b); err != nil {
					return nil, fmt.Errorf("packet %d interned data: %w", pi, err)
				}
			}
		}
		if pi == 0 && flags&1 == 0 {
			return nil, errors.New("first packet does not set SEQ_INCREMENTAL_STATE_CLEARED")
		}
		if seq != 1 {
			return nil, fmt.Errorf("packet %d: trusted_packet_sequence_id %d", pi, seq)
		}
		for _, f := range fs {
			switch f.num {
			case 60:
				tf, err := pbParse(f.b)
				if err != nil {
					return nil, err
				}
				tr := &pfTrack{}
				for _, x := range tf {
					switch x.num {
					case 1:
						tr.uuid = x.v
					case 5:
						tr.parent = x.v
					case 2:
						tr.name = string(x.b)
					case 3, 4:
						sub, err := pbParse(x.b)
						if err != nil {
							return nil, err
						}
						tr.process, tr.thread = x.num == 3, x.num == 4
						for _, y := range sub {
							switch {
							case y.num == 1:
								tr.pid = int64(y.v)
							case y.num == 2 && x.num == 4:
								tr.tid = int64(y.v)
							case y.num == 6 && x.num == 3, y.num == 5 && x.num == 4:
								tr.name = string(y.b)
							}
						}
					case 8:
						tr.counter = true
					}
				}
				if tr.parent != 0 {
					if _, ok := d.tracks[tr.parent]; !ok {
						return nil, fmt.Errorf("packet %d: track %x names undeclared parent %x", pi, tr.uuid, tr.parent)
					}
				}
				// trace_processor rejects a descriptor that moves a
				// track (TrackEventTracker: IsForSameTrack).
				if o := d.tracks[tr.uuid]; o != nil && (o.parent != tr.parent || o.pid != tr.pid || o.tid != tr.tid || o.counter != tr.counter) {
					return nil, fmt.Errorf("packet %d: track %x redeclared as %+v, was %+v", pi, tr.uuid, *tr, *o)
				}
				if _, ok := d.trackPos[tr.uuid]; !ok {
					d.trackPos[tr.uuid] = pi
				}
				d.tracks[tr.uuid] = tr
			case 11:
				if !hasTS {
					return nil, fmt.Errorf("packet %d: track event without timestamp", pi)
				}
				if flags&2 == 0 {
					return nil, fmt.Errorf("packet %d: track event without SEQ_NEEDS_INCREMENTAL_STATE", pi)
				}
				ev = &pfEvent{pos: pi, ts: ts, flags: flags, seq: seq, args: map[string]string{}}
				if err := d.event(ev, f.b); err != nil {
					return nil, fmt.Errorf("packet %d: %w", pi, err)
				}
				if _, ok := d.tracks[ev.track]; !ok {
					return nil, fmt.Errorf("packet %d: event on undeclared track %x", pi, ev.track)
				}
				d.events = append(d.events, *ev)
			}
		}
	}
	return d, nil
}

func (d *pfDecoded) intern(b []byte) error {
	fs, err := pbParse(b)
	if err != nil {
		return err
	}
	for _, f := range fs {
		sub, err := pbParse(f.b)
		if err != nil {
			return err
		}
		iid, _ := first(sub, 1)
		if iid.v == 0 {
			return fmt.Errorf("interned table %d: iid 0", f.num)
		}
		switch f.num {
		case 2, 3, 5: // event_names, debug_annotation_names (name = 2), function_names (str = 2)
			name, _ := first(sub, 2)
			m := map[uint64]map[uint64]string{2: d.eventName, 3: d.annotName, 5: d.funcName}[f.num]
			if old, ok := m[iid.v]; ok && old != string(name.b) {
				return fmt.Errorf("interned table %d: iid %d redefined", f.num, iid.v)
			}
			m[iid.v] = string(name.b)
		case 6: // frames
			fn, _ := first(sub, 2)
			if _, ok := d.funcName[fn.v]; !ok {
				return fmt.Errorf("frame %d: function name %d not interned", iid.v, fn.v)
			}
			d.frames[iid.v] = fn.v
		case 7: // callstacks
			var ids []uint64
			for _, x := range sub {
				if x.num == 2 {
					if _, ok := d.frames[x.v]; !ok {
						return fmt.Errorf("callstack %d: frame %d not interned", iid.v, x.v)
					}
					ids = append(ids, x.v)
				}
			}
			d.stacks[iid.v] = ids
		default:
			return fmt.Errorf("unexpected interned table %d", f.num)
		}
	}
	return nil
}

func (d *pfDecoded) annotation(prefix string, b []byte, args map[string]string) error {
	fs, err := pbParse(b)
	if err != nil {
		return err
	}
	var name, val string
	var dict []pbField
	for _, f := range fs {
		switch f.num {
		case 1:
			n, ok := d.annotName[f.v]
			if !ok {
				return fmt.Errorf("annotation name iid %d not interned", f.v)
			}
			name = n
		case 10:
			name = string(f.b)
		case 2:
			val = fmt.Sprint(f.v != 0)
		case 3:
			val = fmt.Sprint(f.v)
		case 4:
			val = fmt.Sprint(int64(f.v))
		case 6:
			val = string(f.b)
		case 11:
			dict = append(dict, f)
		}
	}
	if name == "" {
		return errors.New("annotation without a name")
	}
	for _, f := range dict {
		if err := d.annotation(prefix+name+".", f.b, args); err != nil {
			return err
		}
	}
	if len(dict) == 0 {
		args[prefix+name] = val
	}
	return nil
}

func (d *pfDecoded) event(ev *pfEvent, b []byte) error {
	fs, err := pbParse(b)
	if err != nil {
		return err
	}
	for _, f := range fs {
		switch f.num {
		case 9:
			ev.typ = f.v
		case 11:
			ev.track = f.v
		case 10:
			n, ok := d.eventName[f.v]
			if !ok {
				return fmt.Errorf("event name iid %d not interned", f.v)
			}
			ev.name = n
		case 23:
			ev.name = string(f.b)
		case 30:
			ev.counter, ev.hasCount = int64(f.v), true
		case 4:
			if err := d.annotation("", f.b, ev.args); err != nil {
				return err
			}
		case 56:
			ids, ok := d.stacks[f.v]
			if !ok {
				return fmt.Errorf("callstack iid %d not interned", f.v)
			}
			for _, id := range ids {
				ev.stack = append(ev.stack, d.funcName[d.frames[id]])
			}
		default:
			return fmt.Errorf("unexpected TrackEvent field %d", f.num)
		}
	}
	ev.unmatched = ev.args["unmatched"] == "true"
	if ev.typ < 1 || ev.typ > 4 {
		return fmt.Errorf("event type %d", ev.typ)
	}
	if (ev.typ == 1 || ev.typ == 3) && ev.name == "" {
		return errors.New("slice or instant without a name")
	}
	if ev.typ == 4 && !ev.hasCount {
		return errors.New("counter event without a value")
	}
	return nil
}

// pfSlice is a slice as trace_processor builds it from begin/end events.
type pfSlice struct {
	track      uint64
	name       string
	start, dur uint64
	depth      int
	args       map[string]string
	stack      []string
}

// slices sorts events by timestamp (file order among equal ones, as
// trace_processor's sorter does) and matches begins with ends per track;
// an end without an open slice, or a slice left open, is an error.
func (d *pfDecoded) slices() ([]pfSlice, error) {
	evs := append([]pfEvent(nil), d.events...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].ts < evs[j].ts })
	open := map[uint64][]pfSlice{}
	var out []pfSlice
	for _, e := range evs {
		switch e.typ {
		case 1:
			s := pfSlice{track: e.track, name: e.name, start: e.ts, depth: len(open[e.track]), args: map[string]string{}, stack: e.stack}
			for k, v := range e.args {
				s.args[k] = v
			}
			open[e.track] = append(open[e.track], s)
		case 2:
			st := open[e.track]
			if len(st) == 0 {
				return nil, fmt.Errorf("end at %d on track %x without an open slice", e.ts, e.track)
			}
			s := st[len(st)-1]
			open[e.track] = st[:len(st)-1]
			s.dur = e.ts - s.start
			for k, v := range e.args {
				s.args[k] = v
			}
			out = append(out, s)
		}
	}
	for tr, st := range open {
		if len(st) > 0 {
			return nil, fmt.Errorf("track %x: %d slices never end (%s)", tr, len(st), st[0].name)
		}
	}
	return out, nil
}

func (d *pfDecoded) count(typ uint64, pred func(e *pfEvent) bool) int {
	n := 0
	for i := range d.events {
		if d.events[i].typ == typ && (pred == nil || pred(&d.events[i])) {
			n++
		}
	}
	return n
}

func (d *pfDecoded) trackName(uuid uint64) string {
	if t := d.tracks[uuid]; t != nil {
		return t.name
	}
	return ""
}
