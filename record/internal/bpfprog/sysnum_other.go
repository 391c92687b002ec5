//go:build linux && !amd64 && !arm64

package bpfprog

// syscallNumbers is empty where kpcap has no system call table: syscall
// tracepoints take the classic tracepoint program there.
var syscallNumbers = map[string]int{}
