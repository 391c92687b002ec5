// Package discover answers "what can I probe here?", the questions perf list,
// perf probe -F/-V and bpftrace -l answer: the kernel's tracepoints, its
// probeable functions (minus the kprobe blacklist), which probe forms the
// running kernel supports and why others are missing, function prototypes
// and struct layouts from BTF, and the functions and USDT markers of a
// binary. Kernel questions need Linux; binaries can be examined anywhere.
package discover
