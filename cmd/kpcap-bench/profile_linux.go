//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// profileTop is how many symbols a profile keeps.
const profileTop = 15

// runProfiles samples kpcap's CPU with perf (frame pointers: Go keeps them)
// in one extra, unmeasured repetition: kpcap record during the workload, then
// kpcap replay and kpcap analyze summary over the newest trace.
func (b *bench) runProfiles(ctx context.Context, spec workloadSpec, w *Workload, traces map[string]string) {
	add := func(p *Profile) {
		w.Profiles = append(w.Profiles, p)
		if p.Error != "" {
			b.logf("profile %s %s: FAILED: %s", w.Name, p.Name, p.Error)
			b.report.Errors = append(b.report.Errors, fmt.Sprintf("%s, profile of %s: %s", w.Name, p.Name, p.Error))
		} else {
			b.logf("profile %s %s: %d symbols", w.Name, p.Name, len(p.Top))
		}
	}
	add(b.profileRecorder(ctx, spec))
	if tr := traces[toolKpcap]; tr != "" {
		for _, a := range b.analyzers(w) {
			if a.source != toolKpcap || a.name == "kpcap analyze latency" {
				continue
			}
			args := a.args(tr)
			data := filepath.Join(b.dir, fmt.Sprintf("profile-%s-%s.data", w.Name, strings.ReplaceAll(a.name, " ", "-")))
			p := &Profile{Name: a.name, Command: "perf record -F 999 -g -- " + strings.Join(append([]string{"kpcap"}, args[1:len(args)-1]...), " ") + " FILE"}
			rec := append([]string{"record", "-q", "-F", "999", "-g", "-o", data, "--"}, args...)
			cmd := exec.CommandContext(ctx, "perf", rec...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				p.Error = fmt.Sprintf("perf record: %v: %s", err, lastLines(stderr.String(), 3))
			} else {
				p.Top, p.Error = perfReportTop(ctx, data)
			}
			add(p)
		}
	}
}

// profileRecorder runs the workload once under kpcap record with perf
// sampling the recorder process.
func (b *bench) profileRecorder(ctx context.Context, spec workloadSpec) *Profile {
	p := &Profile{Name: "kpcap record", Command: "perf record -F 999 -g -p $(pidof kpcap)"}
	trace := filepath.Join(b.dir, fmt.Sprintf("profile-%s.pcapng.zst", spec.name))
	data := filepath.Join(b.dir, fmt.Sprintf("profile-%s-kpcap-record.data", spec.name))
	rec, err := b.startRecorder(recordArgs(toolKpcap, spec, trace, b.kpcap, "", nil), trace+".log")
	if err != nil {
		p.Error = err.Error()
		return p
	}
	defer rec.stop()
	if err := waitKpcapStarted(ctx, rec); err != nil {
		p.Error = err.Error()
		return p
	}
	pid := rec.cmd.Process.Pid
	prof, err := b.startRecorder([]string{"perf", "record", "-q", "-F", "999", "-g", "-p", fmt.Sprint(pid), "-o", data}, data+".log")
	if err != nil {
		p.Error = err.Error()
		return p
	}
	if err := waitPerfFDs(ctx, prof); err != nil {
		_ = prof.stop()
		p.Error = "profiler: " + err.Error()
		return p
	}
	_, werr := b.runWorkloadProcess(ctx, spec)
	time.Sleep(100 * time.Millisecond) // let the recorder drain what the workload produced
	perr := prof.stop()
	if werr != nil || perr != nil {
		p.Error = fmt.Sprintf("workload: %v; profiler: %v", werr, perr)
		return p
	}
	p.Top, p.Error = perfReportTop(ctx, data)
	return p
}

// perfReportTop returns the top symbols by self time of a perf.data file.
func perfReportTop(ctx context.Context, data string) ([]ProfileEntry, string) {
	out, err := exec.CommandContext(ctx, "perf", "report", "-i", data, "--no-children", "--stdio", "--sort", "dso,sym", "-g", "none").Output()
	if err != nil {
		return nil, fmt.Sprintf("perf report: %v", errText(err))
	}
	top, err := parsePerfReportTop(bytes.NewReader(out), profileTop)
	if err != nil {
		return nil, err.Error()
	}
	if len(top) == 0 {
		return nil, "perf report: no samples"
	}
	return top, ""
}
