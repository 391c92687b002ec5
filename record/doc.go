// Package record captures kernel and user probe samples through raw
// perf_event_open syscalls and mmap ring buffers into kpcap trace files.
// It is Linux-only; its probe-definition parser builds everywhere.
package record
