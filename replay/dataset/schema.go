package dataset

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/kpcap/kpcap/replay/internal/parquetio"
)

// Columns common to every events file, in this order, before the source's
// event fields (DATASET.md describes each).
const (
	ColTraceID = "trace_id"
	ColTS      = "ts"
	ColTime    = "time"
	ColCPU     = "cpu"
	ColPID     = "pid"
	ColTID     = "tid"
	ColComm    = "comm"
	ColStackID = "stack_id"
	// ColPeriod is the number of events a sample stands for, replay's
	// "period" (PERF_SAMPLE_PERIOD), null when it counts one. Its name
	// differs from replay's so that it adds a column: a field named
	// "period" (writeback:balance_dirty_pages) keeps its column name.
	ColPeriod = "sample_period"
)

// parquetLayout keeps min/max statistics on the columns queries prune on
// (time ranges, CPUs, processes) and delta-encodes ts, which grows (time,
// a timestamp, always is).
var parquetLayout = parquetio.Layout{Stats: []string{ColTS, ColCPU, ColPID, ColTID, ColTime}, Delta: []string{ColTS}}

// Hive partition keys of the events table, outermost first.
const (
	PartKernel = "kernel"
	PartHost   = "host"
	PartSource = "source"
)

// FieldPrefix is put before an event field's name when the name is a common
// column or a partition key (e.g. sched_process_exec's "pid" becomes
// "field_pid"), so that a source's field columns never shadow them.
const FieldPrefix = "field_"

var (
	strDict = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	tsType  = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	i32     = arrow.PrimitiveTypes.Int32
	i64     = arrow.PrimitiveTypes.Int64
	u64     = arrow.PrimitiveTypes.Uint64
	utf8    = arrow.BinaryTypes.String
	boolean = arrow.FixedWidthTypes.Boolean
)

// reserved are the names event fields may not take as they are.
var reserved = map[string]bool{ColTraceID: true, ColTS: true, ColTime: true, ColCPU: true, ColPID: true,
	ColTID: true, ColComm: true, ColStackID: true, ColPeriod: true, PartKernel: true, PartHost: true, PartSource: true}

// FieldColumn is the events column name of an event field.
func FieldColumn(field string) string {
	if reserved[field] {
		return FieldPrefix + field
	}
	return field
}

// eventsCommon are the common columns of the events files.
var eventsCommon = []arrow.Field{
	{Name: ColTraceID, Type: strDict},
	{Name: ColTS, Type: i64},
	{Name: ColTime, Type: tsType, Nullable: true},
	{Name: ColCPU, Type: i32},
	{Name: ColPID, Type: i32},
	{Name: ColTID, Type: i32},
	{Name: ColComm, Type: strDict, Nullable: true},
	{Name: ColStackID, Type: i64, Nullable: true},
	{Name: ColPeriod, Type: i64, Nullable: true},
}

func schemaOf(fields ...arrow.Field) *arrow.Schema { return arrow.NewSchema(fields, nil) }

// TracesSchema is the traces table: one row per exported trace file.
var TracesSchema = schemaOf(
	arrow.Field{Name: ColTraceID, Type: utf8},
	arrow.Field{Name: "file", Type: utf8},
	arrow.Field{Name: "host", Type: utf8},
	arrow.Field{Name: "kernel", Type: utf8},
	arrow.Field{Name: "kernel_version", Type: utf8},
	arrow.Field{Name: "arch", Type: utf8},
	arrow.Field{Name: "os", Type: utf8},
	arrow.Field{Name: "cpus", Type: i32},
	arrow.Field{Name: "page_size", Type: i32},
	arrow.Field{Name: "application", Type: utf8},
	arrow.Field{Name: "format_version", Type: utf8},
	arrow.Field{Name: "clock", Type: utf8},
	arrow.Field{Name: "wall_offset_ns", Type: i64},
	arrow.Field{Name: "start_ns", Type: i64},
	arrow.Field{Name: "end_ns", Type: i64},
	arrow.Field{Name: "start_time", Type: tsType, Nullable: true},
	arrow.Field{Name: "end_time", Type: tsType, Nullable: true},
	arrow.Field{Name: "duration_ns", Type: i64},
	arrow.Field{Name: "events", Type: i64},
	arrow.Field{Name: "recorded", Type: i64},
	arrow.Field{Name: "lost", Type: i64},
	arrow.Field{Name: "ring_lost", Type: i64},
	arrow.Field{Name: "source_dropped", Type: i64},
	arrow.Field{Name: "sources", Type: i32},
	arrow.Field{Name: "stacks", Type: i64},
	arrow.Field{Name: "frames", Type: i64},
	arrow.Field{Name: "bytes", Type: i64},
	arrow.Field{Name: "capture_args", Type: utf8},
	arrow.Field{Name: "capture_targets", Type: utf8},
	arrow.Field{Name: "call_graph", Type: boolean},
	arrow.Field{Name: "buffer_size", Type: i64},
	arrow.Field{Name: "capture_extra", Type: utf8},
	arrow.Field{Name: "notes", Type: utf8},
	arrow.Field{Name: "warnings", Type: utf8},
	arrow.Field{Name: "dataset_version", Type: i32},
	arrow.Field{Name: "exported_by", Type: utf8},
)

// SourcesSchema is the sources table: one row per event source of a trace.
var SourcesSchema = schemaOf(
	arrow.Field{Name: ColTraceID, Type: utf8},
	arrow.Field{Name: "source_index", Type: i32},
	arrow.Field{Name: "source", Type: utf8},
	arrow.Field{Name: "kind", Type: utf8},
	arrow.Field{Name: "definition", Type: utf8},
	arrow.Field{Name: "filter", Type: utf8},
	arrow.Field{Name: "target", Type: utf8},
	arrow.Field{Name: "event_format", Type: utf8},
	arrow.Field{Name: "field_types", Type: utf8},
	arrow.Field{Name: "events", Type: i64},
	arrow.Field{Name: "recorded", Type: i64},
	arrow.Field{Name: "dropped", Type: i64},
	arrow.Field{Name: "partition", Type: utf8, Nullable: true},
	arrow.Field{Name: "error", Type: utf8, Nullable: true},
)

// StacksSchema is the stacks table: one row per frame of each distinct
// stack of a trace (stack ids are per trace).
var StacksSchema = schemaOf(
	arrow.Field{Name: ColTraceID, Type: utf8},
	arrow.Field{Name: "stack_id", Type: i64},
	arrow.Field{Name: "depth", Type: i32},
	arrow.Field{Name: "addr", Type: u64},
	arrow.Field{Name: "name", Type: utf8},
	arrow.Field{Name: "offset", Type: u64},
	arrow.Field{Name: "module", Type: utf8},
	arrow.Field{Name: "kernel", Type: boolean},
)

// CommsSchema is the comms table: task names from a time on.
var CommsSchema = schemaOf(
	arrow.Field{Name: ColTraceID, Type: utf8},
	arrow.Field{Name: ColPID, Type: i32},
	arrow.Field{Name: ColTID, Type: i32},
	arrow.Field{Name: ColTS, Type: i64},
	arrow.Field{Name: ColTime, Type: tsType, Nullable: true},
	arrow.Field{Name: ColComm, Type: utf8},
)

// LossSchema is the loss table: one row per loss record of a trace.
var LossSchema = schemaOf(
	arrow.Field{Name: ColTraceID, Type: utf8},
	arrow.Field{Name: ColTS, Type: i64},
	arrow.Field{Name: ColTime, Type: tsType, Nullable: true},
	arrow.Field{Name: ColCPU, Type: i32, Nullable: true},
	arrow.Field{Name: "source", Type: utf8, Nullable: true},
	arrow.Field{Name: "count", Type: i64},
)
