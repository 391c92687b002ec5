package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// bpftrace as peers of the BPF path: counting the events in a map (cheap,
// but every event is reduced to a number) and printing each one (every
// event kept, as text).
const (
	toolBpftraceCount = "bpftrace-count"
	toolBpftracePrint = "bpftrace-print"
)

// isBpftrace reports whether tool runs bpftrace.
func isBpftrace(tool string) bool { return tool == toolBpftraceCount || tool == toolBpftracePrint }

// bpftraceReady is printed by the BEGIN probe, which bpftrace runs once
// every probe is attached: the bench starts the workload when it appears.
const bpftraceReady = "kpcap-bench-ready"

// bpftraceArgs returns bpftrace's argv for a workload's events: line
// buffering so that the ready line (and, printing, every event) reaches
// the log at once.
func bpftraceArgs(tool string, spec workloadSpec) []string {
	probes := make([]string, len(spec.events))
	for i, e := range spec.events {
		probes[i] = "tracepoint:" + e
	}
	body := "@[pid] = count();"
	if tool == toolBpftracePrint {
		body = `printf("%d %d %s\n", pid, tid, probe);`
	}
	script := fmt.Sprintf("BEGIN { printf(\"%s\\n\"); } %s { %s }", bpftraceReady, strings.Join(probes, ","), body)
	return []string{"bpftrace", "-B", "line", "-e", script}
}

var (
	bpftraceMapLine  = regexp.MustCompile(`^@\[(\d+)\]: (\d+)$`)
	bpftraceLostLine = regexp.MustCompile(`Lost (\d+) events`)
)

// parseBpftrace counts what a bpftrace run reported in its output: the
// per-pid map at exit (counting) or one line per event (printing), and
// the events it said it lost.
func parseBpftrace(r io.Reader, tool string, pid int) (sampleCounts, error) {
	c := sampleCounts{PerEvent: map[string]uint64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	want := strconv.Itoa(pid)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := bpftraceLostLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			c.Lost += n
			continue
		}
		switch tool {
		case toolBpftraceCount:
			m := bpftraceMapLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			n, err := strconv.ParseUint(m[2], 10, 64)
			if err != nil {
				return c, fmt.Errorf("bpftrace map line %q: %w", line, err)
			}
			c.Total += n
			if m[1] == want {
				c.PID += n
			}
		case toolBpftracePrint:
			f := strings.Fields(line)
			if len(f) != 3 || !strings.HasPrefix(f[2], "tracepoint:") {
				continue
			}
			c.Total++
			if f[0] == want {
				c.PID++
				c.PerEvent[strings.TrimPrefix(f[2], "tracepoint:")]++
			}
		}
	}
	return c, sc.Err()
}
