package main

import (
	"strings"
	"testing"
)

func TestParseBpftrace(t *testing.T) {
	count := "Attaching 2 probes...\nkpcap-bench-ready\n\n\n@[12]: 5\n@[42]: 1000\n@[7]: 3\n"
	c, err := parseBpftrace(strings.NewReader(count), toolBpftraceCount, 42)
	if err != nil || c.PID != 1000 || c.Total != 1008 || c.Lost != 0 {
		t.Errorf("count: %+v, %v", c, err)
	}
	print := "Attaching 2 probes...\nkpcap-bench-ready\n42 43 tracepoint:syscalls:sys_enter_openat\n42 43 tracepoint:syscalls:sys_exit_openat\n9 9 tracepoint:syscalls:sys_enter_openat\nLost 17 events\n"
	c, err = parseBpftrace(strings.NewReader(print), toolBpftracePrint, 42)
	if err != nil || c.PID != 2 || c.Total != 3 || c.Lost != 17 || c.PerEvent["syscalls:sys_exit_openat"] != 1 {
		t.Errorf("print: %+v, %v", c, err)
	}
	args := bpftraceArgs(toolBpftraceCount, workloadSpec{events: []string{"syscalls:sys_enter_openat", "syscalls:sys_exit_openat"}})
	if got := args[len(args)-1]; !strings.Contains(got, "tracepoint:syscalls:sys_enter_openat,tracepoint:syscalls:sys_exit_openat { @[pid] = count(); }") || !strings.Contains(got, "BEGIN") {
		t.Errorf("script %q", got)
	}
}
