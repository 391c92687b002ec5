package analyze

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers and enum values of the Perfetto trace protos the export
// writes, from github.com/google/perfetto (protos/perfetto/...); each comment
// names the .proto file and message that defines the number.
const (
	// trace/trace.proto: Trace
	pfTracePacket protowire.Number = 1

	// trace/trace_packet.proto: TracePacket
	pfPacketTimestamp        protowire.Number = 8
	pfPacketTimestampClockID protowire.Number = 58
	pfPacketTrackEvent       protowire.Number = 11
	pfPacketTrackDescriptor  protowire.Number = 60
	pfPacketClockSnapshot    protowire.Number = 6
	pfPacketSequenceID       protowire.Number = 10 // trusted_packet_sequence_id
	pfPacketInternedData     protowire.Number = 12
	pfPacketSequenceFlags    protowire.Number = 13
	pfPacketDefaults         protowire.Number = 59 // trace_packet_defaults

	// trace/trace_packet.proto: TracePacket.SequenceFlags
	pfSeqIncrementalStateCleared = 1
	pfSeqNeedsIncrementalState   = 2

	// trace/trace_packet_defaults.proto: TracePacketDefaults
	pfDefaultsTimestampClockID protowire.Number = 58

	// trace/clock_snapshot.proto: ClockSnapshot, ClockSnapshot.Clock
	pfSnapshotClocks       protowire.Number = 1
	pfSnapshotPrimaryClock protowire.Number = 2
	pfClockID              protowire.Number = 1
	pfClockTimestamp       protowire.Number = 2

	// common/builtin_clock.proto: BuiltinClock
	pfClockRealtime     = 1
	pfClockMonotonic    = 3
	pfClockMonotonicRaw = 5
	pfClockBoottime     = 6

	// trace/track_event/track_descriptor.proto: TrackDescriptor
	pfTrackUUID       protowire.Number = 1
	pfTrackParentUUID protowire.Number = 5
	pfTrackName       protowire.Number = 2
	pfTrackProcess    protowire.Number = 3
	pfTrackThread     protowire.Number = 4
	pfTrackCounter    protowire.Number = 8

	// trace/track_event/process_descriptor.proto: ProcessDescriptor
	pfProcessPID  protowire.Number = 1
	pfProcessName protowire.Number = 6

	// trace/track_event/thread_descriptor.proto: ThreadDescriptor
	pfThreadPID  protowire.Number = 1
	pfThreadTID  protowire.Number = 2
	pfThreadName protowire.Number = 5

	// trace/track_event/counter_descriptor.proto: CounterDescriptor
	pfCounterUnitName protowire.Number = 6

	// trace/track_event/track_event.proto: TrackEvent
	pfEventType             protowire.Number = 9
	pfEventTrackUUID        protowire.Number = 11
	pfEventNameIID          protowire.Number = 10
	pfEventName             protowire.Number = 23
	pfEventCounterValue     protowire.Number = 30
	pfEventDebugAnnotations protowire.Number = 4
	pfEventCallstackIID     protowire.Number = 56

	// trace/track_event/track_event.proto: TrackEvent.Type
	pfTypeSliceBegin = 1
	pfTypeSliceEnd   = 2
	pfTypeInstant    = 3
	pfTypeCounter    = 4

	// trace/track_event/debug_annotation.proto: DebugAnnotation
	pfAnnotNameIID     protowire.Number = 1
	pfAnnotName        protowire.Number = 10
	pfAnnotBool        protowire.Number = 2
	pfAnnotUint        protowire.Number = 3
	pfAnnotInt         protowire.Number = 4
	pfAnnotString      protowire.Number = 6
	pfAnnotDictEntries protowire.Number = 11

	// trace/interned_data/interned_data.proto: InternedData
	pfInternEventNames      protowire.Number = 2
	pfInternAnnotationNames protowire.Number = 3
	pfInternFunctionNames   protowire.Number = 5
	pfInternFrames          protowire.Number = 6
	pfInternCallstacks      protowire.Number = 7

	// trace/track_event/track_event.proto: EventName;
	// trace/track_event/debug_annotation.proto: DebugAnnotationName
	pfIIDIID  protowire.Number = 1
	pfIIDName protowire.Number = 2

	// trace/profiling/profile_common.proto: InternedString, Frame, Callstack
	pfStringIID         protowire.Number = 1
	pfStringStr         protowire.Number = 2
	pfFrameIID          protowire.Number = 1
	pfFrameFunctionName protowire.Number = 2
	pfCallstackIID      protowire.Number = 1
	pfCallstackFrameIDs protowire.Number = 2
)

// pbuf appends protobuf fields; nested messages are written after a
// reserved length that end patches, so nothing is encoded twice.
type pbuf struct {
	b     []byte
	stack []int // start offsets of open messages (after their reserved length)
}

// lenReserve is the room kept for a nested message's length: 4 varint bytes
// cover 256 MiB, far above any message the export builds.
const lenReserve = 4

func (p *pbuf) varint(n protowire.Number, v uint64) {
	if n < 16 && v < 0x80 {
		// The common case (small field, small value) in two bytes.
		p.b = append(p.b, byte(n)<<3|byte(protowire.VarintType), byte(v))
		return
	}
	p.b = protowire.AppendTag(p.b, n, protowire.VarintType)
	p.b = protowire.AppendVarint(p.b, v)
}

func (p *pbuf) sint(n protowire.Number, v int64) { p.varint(n, uint64(v)) }

func (p *pbuf) str(n protowire.Number, s string) {
	p.b = protowire.AppendTag(p.b, n, protowire.BytesType)
	p.b = protowire.AppendString(p.b, s)
}

func (p *pbuf) bytes(n protowire.Number, v []byte) {
	p.b = protowire.AppendTag(p.b, n, protowire.BytesType)
	p.b = protowire.AppendBytes(p.b, v)
}

func (p *pbuf) double(n protowire.Number, v float64) {
	p.b = protowire.AppendTag(p.b, n, protowire.Fixed64Type)
	p.b = protowire.AppendFixed64(p.b, math.Float64bits(v))
}

// begin opens a nested message field n; end closes the innermost one.
func (p *pbuf) begin(n protowire.Number) {
	p.b = protowire.AppendTag(p.b, n, protowire.BytesType)
	p.b = append(p.b, 0x80, 0x80, 0x80, 0x00)
	p.stack = append(p.stack, len(p.b))
}

func (p *pbuf) end() {
	start := p.stack[len(p.stack)-1]
	p.stack = p.stack[:len(p.stack)-1]
	n := len(p.b) - start
	// A padded varint: continuation bits on the first three bytes keep the
	// reserved size whatever the length (valid protobuf, decoders accept it).
	l := p.b[start-lenReserve : start]
	l[0] = byte(n) | 0x80
	l[1] = byte(n>>7) | 0x80
	l[2] = byte(n>>14) | 0x80
	l[3] = byte(n >> 21)
}
