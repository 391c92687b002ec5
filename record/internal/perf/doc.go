// Package perf wraps the raw perf_event_open interface the recorder needs:
// event attributes, per-CPU mmap rings read without copies beyond one memmove,
// the record layouts kpcap asks for, and an epoll poller with a wakeup eventfd.
package perf
