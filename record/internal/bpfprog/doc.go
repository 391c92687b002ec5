// Package bpfprog generates, at run time, the BPF programs of kpcap's BPF
// capture path and owns the maps they share: one BPF ring buffer that every
// program writes its events into, a gate that switches recording on and
// off, and per-CPU counters of the events each program saw and the ring
// refused.
//
// A program is built instruction by instruction with cilium/ebpf's asm
// package: no compiler, no LLVM, still one static binary. Each event becomes
// one ring record (see Record) that the recorder turns into the same sample
// bytes the perf path stores: of a fixed size, or, for a source with
// variable-length fields (a tracepoint's __data_loc, a probe's string
// arguments), as long as the event's strings make it (see VarTracepoint). A tracefs event filter (see
// ParseFilter) becomes part of a program, which then drops the events the
// filter rejects before counting them; with call stacks a record carries
// the event's kernel and user stacks from bpf_get_stack after its payload
// (see StackBytes).
package bpfprog
