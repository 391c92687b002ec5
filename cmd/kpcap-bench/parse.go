package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sampleKey identifies one sample for duplicate detection: two samples with
// the same time, CPU, pid, tid and event are the same kernel event written
// twice (perf 6.1 writes ~0.05 % of tracepoint samples twice).
type sampleKey struct {
	Time     uint64
	PID, TID uint32
	CPU      uint16
	Event    uint16 // index into sampleCounter.events
}

// sampleCounter counts samples per event for one pid and detects duplicates
// among all samples.
type sampleCounter struct {
	pid    uint32
	events []string
	index  map[string]uint16
	keys   []sampleKey
	lost   uint64 // sum of loss records seen
}

func newSampleCounter(pid int) *sampleCounter {
	return &sampleCounter{pid: uint32(pid), index: map[string]uint16{}}
}

// add records one sample.
func (c *sampleCounter) add(t uint64, cpu, pid, tid uint32, event string) {
	i, ok := c.index[event]
	if !ok {
		i = uint16(len(c.events))
		c.events = append(c.events, event)
		c.index[event] = i
	}
	c.keys = append(c.keys, sampleKey{Time: t, PID: pid, TID: tid, CPU: uint16(cpu), Event: i})
}

// sampleCounts is what a trace holds, after deduplication.
type sampleCounts struct {
	Total      uint64            `json:"total"`      // samples in the file, all pids, duplicates included
	Duplicates uint64            `json:"duplicates"` // samples identical to an earlier one (all pids)
	PID        uint64            `json:"pid"`        // unique samples of the workload pid
	PerEvent   map[string]uint64 `json:"per_event"`  // unique samples of the workload pid per event
	Lost       uint64            `json:"lost"`       // samples the tracer reported lost (all pids)
}

// counts sorts the collected keys and counts unique samples.
func (c *sampleCounter) counts() sampleCounts {
	slices.SortFunc(c.keys, func(a, b sampleKey) int {
		switch {
		case a.Time != b.Time:
			return cmpU64(a.Time, b.Time)
		case a.CPU != b.CPU:
			return int(a.CPU) - int(b.CPU)
		case a.PID != b.PID:
			return cmpU64(uint64(a.PID), uint64(b.PID))
		case a.TID != b.TID:
			return cmpU64(uint64(a.TID), uint64(b.TID))
		}
		return int(a.Event) - int(b.Event)
	})
	r := sampleCounts{Total: uint64(len(c.keys)), PerEvent: map[string]uint64{}, Lost: c.lost}
	for i, k := range c.keys {
		if i > 0 && k == c.keys[i-1] {
			r.Duplicates++
			continue
		}
		if k.PID == c.pid {
			r.PID++
			r.PerEvent[c.events[k.Event]]++
		}
	}
	return r
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// perfScriptArgs are the perf script options whose output parsePerfScript reads.
var perfScriptArgs = []string{"-F", "pid,tid,cpu,time,event", "--ns", "--show-lost-events"}

// parsePerfScript reads `perf script -F pid,tid,cpu,time,event --ns
// --show-lost-events` output into c. Sample lines look like
//
//	14213/14213 [001]   348.459280206: syscalls:sys_enter_getppid:
//
// and loss lines like
//
//	14213/14213 [001]   348.459280206: PERF_RECORD_LOST lost 113
func parsePerfScript(r io.Reader, c *sampleCounter) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if err := parsePerfScriptLine(s, c); err != nil {
			return fmt.Errorf("perf script line %d %q: %w", line, s, err)
		}
	}
	return sc.Err()
}

func parsePerfScriptLine(s string, c *sampleCounter) error {
	f := strings.Fields(s)
	if len(f) < 4 {
		return errors.New("want pid/tid [cpu] time: event")
	}
	pidS, tidS, ok := strings.Cut(f[0], "/")
	if !ok {
		return errors.New("no pid/tid")
	}
	pid, err1 := strconv.ParseUint(pidS, 10, 32)
	tid, err2 := strconv.ParseUint(tidS, 10, 32)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("bad pid/tid %q", f[0])
	}
	cpuS := strings.TrimSuffix(strings.TrimPrefix(f[1], "["), "]")
	cpu, err := strconv.ParseUint(cpuS, 10, 16)
	if err != nil {
		return fmt.Errorf("bad cpu %q", f[1])
	}
	t, err := parseSecondsNS(strings.TrimSuffix(f[2], ":"))
	if err != nil {
		return err
	}
	if f[3] == "PERF_RECORD_LOST" || f[3] == "PERF_RECORD_LOST_SAMPLES" {
		// "PERF_RECORD_LOST lost 113": the count is the last field.
		n, err := strconv.ParseUint(f[len(f)-1], 10, 64)
		if err != nil {
			return fmt.Errorf("bad lost count %q", f[len(f)-1])
		}
		if f[3] == "PERF_RECORD_LOST" {
			c.lost += n
		}
		return nil
	}
	c.add(t, uint32(cpu), uint32(pid), uint32(tid), strings.TrimSuffix(f[3], ":"))
	return nil
}

// parseSecondsNS parses "348.459280206" (seconds with nanoseconds) exactly.
func parseSecondsNS(s string) (uint64, error) {
	sec, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 9 {
		return 0, fmt.Errorf("bad time %q: want seconds with 9 decimals (--ns)", s)
	}
	a, err1 := strconv.ParseUint(sec, 10, 64)
	b, err2 := strconv.ParseUint(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return a*1e9 + b, nil
}

// parsePerfStatsLost sums the per-event "LOST_SAMPLES events: N" lines of
// `perf report --stats`. perf 6.1 writes PERF_RECORD_LOST records when a ring
// overflows and, at the end, a LOST_SAMPLES record per event from the kernel's
// own lost counter; `perf report --stats` lists the latter under "EVENT stats:".
func parsePerfStatsLost(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	inEvent := false
	var lost uint64
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(s, " stats:") {
			// "Aggregated stats:" counts LOST_SAMPLES records, not samples.
			inEvent = s != "Aggregated stats:"
			continue
		}
		if !inEvent || !strings.HasPrefix(s, "LOST_SAMPLES events:") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(s, "LOST_SAMPLES events:"))
		if len(f) == 0 {
			return 0, fmt.Errorf("perf report --stats: bad line %q", s)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("perf report --stats: bad line %q", s)
		}
		lost += n
	}
	return lost, sc.Err()
}

// infoProbe is one probe of `kpcap info --json`.
type infoProbe struct {
	Name  string `json:"name"`
	Count uint64 `json:"count"`
	Lost  uint64 `json:"lost"`
}

// parseKpcapInfo reads the probes[].count/.lost totals of `kpcap info --json`.
func parseKpcapInfo(data []byte) (count, lost uint64, probes []infoProbe, err error) {
	var v struct {
		Probes []infoProbe `json:"probes"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return 0, 0, nil, fmt.Errorf("kpcap info --json: %w", err)
	}
	if v.Probes == nil {
		return 0, 0, nil, errors.New("kpcap info --json: no probes array")
	}
	for _, p := range v.Probes {
		count += p.Count
		lost += p.Lost
	}
	return count, lost, v.Probes, nil
}

// workloadResult is the line the workload program prints.
type workloadResult struct {
	Kind  string `json:"kind"`
	PID   int    `json:"pid"`
	TID   int    `json:"tid"`
	Calls int    `json:"calls"`
	NS    int64  `json:"ns"`
	CPUNS int64  `json:"cpu_ns"`
}

func parseWorkload(out []byte) (workloadResult, error) {
	var w workloadResult
	if err := json.Unmarshal(out, &w); err != nil {
		return w, fmt.Errorf("workload output %q: %w", strings.TrimSpace(string(out)), err)
	}
	if w.PID <= 0 || w.NS <= 0 {
		return w, fmt.Errorf("workload output %q: missing pid or time", strings.TrimSpace(string(out)))
	}
	return w, nil
}

// parseProcStatCPU returns utime+stime of a /proc/PID/stat line, whose clock
// ticks are 1/hz s. The command name (field 2) may hold spaces and
// parentheses: fields are counted from the last ')'.
func parseProcStatCPU(stat string, hz int) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("/proc stat: too few fields")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc stat: bad utime/stime %q %q", f[11], f[12])
	}
	return time.Duration(u+s) * time.Second / time.Duration(hz), nil
}

// ProfileEntry is one line of a sampled CPU profile: a symbol's share of the
// samples, self time only.
type ProfileEntry struct {
	Percent float64 `json:"percent"`
	Object  string  `json:"object"`
	Symbol  string  `json:"symbol"`
}

// parsePerfReportTop reads `perf report --no-children --stdio --sort dso,sym
// -g none` output, lines like
//
//	11.91%  kpcap              [.] github.com/klauspost/compress/zstd.(*fastEncoder).Encode
//
// and returns at most n entries, largest first (perf's order).
func parsePerfReportTop(r io.Reader, n int) ([]ProfileEntry, error) {
	var out []ProfileEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() && len(out) < n {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasSuffix(f[0], "%") || !strings.HasPrefix(f[2], "[") {
			continue
		}
		p, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		out = append(out, ProfileEntry{Percent: p, Object: f[1], Symbol: strings.Join(f[3:], " ")})
	}
	return out, sc.Err()
}
