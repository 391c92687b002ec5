// Package replay decodes kpcap trace files into Apache Arrow record batches
// (and text, JSON, Arrow IPC and Parquet), using the event formats stored in
// the file.
//
// A Reader decodes the file's zstd frames in parallel, one chunk per frame,
// straight into Arrow buffers (fixed-offset integer fields are copied with
// direct little-endian loads; comm and probe are dictionary indexes), then
// hands out batches merged in time order with bounded memory. Every field the
// tracefs format file describes becomes a nullable typed column; payloads too
// short for their format give nulls and a counted warning, never a panic.
//
// Reader.Count counts the rows Next would return (per source, CPU, comm,
// pid, string value, and over time) straight off the samples, without
// building batches, for analyses that only count.
//
// Subpackages: filter (the ftrace filter language, evaluated offline) and
// internal/eventfmt (the tracefs format-file parser).
package replay
