// Package record captures kernel and user probe samples through raw
// perf_event_open syscalls and mmap ring buffers into kpcap trace files.
// It is Linux-only; its probe-definition parser builds everywhere.
//
// Run opens, per CPU, a dummy software event that owns the CPU's ring and
// reports COMM/FORK/EXIT (and MMAP with call graphs), then one event per
// source redirected into that ring. One goroutine waits on epoll (watermark
// wakeups plus a timeout), copies each ring's new bytes out in one or two
// pieces (data_head read once, data_tail released after the copy), indexes
// the records in place, and k-way merges the CPUs by time up to a lag window
// behind the clock, so the file is time-sorted. When recording stops, each
// event's counter is read: samples not written are counted lost exactly,
// including loss the kernel had not reported yet.
//
// Probes with fetchargs, and probes without them opened on more than one
// CPU (each PMU open is a kernel probe of its own) or filtered (the kernel
// filters no PMU probe), are created in tracefs under kpcap_<pid> and
// removed on every exit path; the others use the kprobe/uprobe PMU and
// cannot be left behind.
package record
