// Command kpcap-testtrace writes the synthetic traces of package testtrace
// for tests that cannot import it (cmd/kpcap's, outside analyze/). It reads
// jobs, one JSON object each, from standard input and writes each job's
// trace; the first failure ends it with its message and exit status 1.
//
// A job sets exactly one of its fields:
//
//	{"openat": {"path": P, "kernel": K, "suffix": S, "n": N, "slow": 1, "lost": 0}}
//	{"fleet_host": {"path": P, "host": {"host": H, "kernel": K, "calls": N, "seed": S, "openatshift": 0}}}
//	{"rewrite": {"src": A, "dst": B, "host": H}}
//	{"rewrite_shifted": {"src": A, "dst": B, "host": H, "kernel": K, "scale": 1, "shift": 0, "shift_returns": [SOURCE...]}}
//	{"trace": {"path": P, "host": H, "kernel": K, "sources": [...], "set": {...}, "ops": [...], "dropped": {"0": N}}}
//
// A trace job's ops are written in order: each sets one of "comm"
// (format.Comm), "sample", "lost" (format.Lost) or "end" (the capture's end
// time, as format.Writer.SetEnd). Sample field values are JSON strings or
// integers.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/format"
)

// job is one trace to write.
type job struct {
	Openat         *openatJob         `json:"openat"`
	FleetHost      *fleetHostJob      `json:"fleet_host"`
	Rewrite        *rewriteJob        `json:"rewrite"`
	RewriteShifted *rewriteShiftedJob `json:"rewrite_shifted"`
	Trace          *traceJob          `json:"trace"`
}

type openatJob struct {
	Path, Kernel, Suffix string
	N                    int
	Slow, Lost           uint64
}

type fleetHostJob struct {
	Path string
	Host testtrace.FleetHost
}

type rewriteJob struct{ Src, Dst, Host string }

type rewriteShiftedJob struct {
	Src, Dst, Host, Kernel string
	Scale                  float64
	Shift                  uint64
	ShiftReturns           []string `json:"shift_returns"`
}

type traceJob struct {
	Path, Host, Kernel string
	Sources            []testtrace.Source
	Set                *format.SetInfo
	Ops                []op
	Dropped            map[uint32]uint64
}

// op is one record of a trace job.
type op struct {
	Comm   *format.Comm
	Sample *sample
	Lost   *format.Lost
	End    *uint64
}

type sample struct {
	Source        uint32
	Time          uint64
	CPU, PID, TID uint32
	Fields        map[string]any
	Callchain     []uint64
}

// fatalTB is the testing.TB testtrace reports to: a failure ends the
// program. testtrace calls only Helper and Fatal.
type fatalTB struct{ testing.TB }

func (fatalTB) Helper()                      {}
func (fatalTB) Fatal(args ...any)            { fail(fmt.Sprint(args...)) }
func (fatalTB) Fatalf(f string, args ...any) { fail(fmt.Sprintf(f, args...)) }

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "kpcap-testtrace:", msg)
	os.Exit(1)
}

func main() {
	if err := runJobs(os.Stdin, fatalTB{}); err != nil {
		fail(err.Error())
	}
}

// runJobs writes the trace of each job read from r.
func runJobs(r io.Reader, t testing.TB) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	for {
		var j job
		err := dec.Decode(&j)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := j.run(t); err != nil {
			return err
		}
	}
}

func (j *job) run(t testing.TB) error {
	switch {
	case j.Openat != nil:
		o := j.Openat
		testtrace.Openat(t, o.Path, o.Kernel, o.Suffix, o.N, o.Slow, o.Lost)
	case j.FleetHost != nil:
		testtrace.WriteFleetHost(t, j.FleetHost.Path, j.FleetHost.Host)
	case j.Rewrite != nil:
		testtrace.Rewrite(t, j.Rewrite.Src, j.Rewrite.Dst, j.Rewrite.Host)
	case j.RewriteShifted != nil:
		r := j.RewriteShifted
		o := testtrace.RewriteOptions{Host: r.Host, Kernel: r.Kernel, Scale: r.Scale, Shift: r.Shift}
		if len(r.ShiftReturns) > 0 {
			o.ShiftReturn = func(src string) bool { return slices.Contains(r.ShiftReturns, src) }
		}
		testtrace.RewriteShifted(t, r.Src, r.Dst, o)
	case j.Trace != nil:
		return j.Trace.write(t)
	default:
		return errors.New("a job names none of openat, fleet_host, rewrite, rewrite_shifted, trace")
	}
	return nil
}

func (tj *traceJob) write(t testing.TB) error {
	var g *testtrace.Gen
	switch {
	case tj.Set != nil && tj.Host != "":
		return errors.New("a trace job of a set keeps the test host name")
	case tj.Set != nil:
		g = testtrace.NewInSet(t, tj.Path, tj.Kernel, tj.Sources, tj.Set)
	case tj.Host != "":
		g = testtrace.NewHost(t, tj.Path, tj.Host, tj.Kernel, tj.Sources)
	default:
		g = testtrace.New(t, tj.Path, tj.Kernel, tj.Sources)
	}
	for _, o := range tj.Ops {
		switch {
		case o.Comm != nil:
			g.W.AddComm(*o.Comm)
		case o.Lost != nil:
			g.W.AddLost(*o.Lost)
		case o.End != nil:
			g.W.SetEnd(*o.End)
		case o.Sample != nil:
			s := o.Sample
			vals, err := fieldValues(s.Fields)
			if err != nil {
				return err
			}
			g.Sample(s.Source, s.Time, s.CPU, s.PID, s.TID, vals, s.Callchain)
		default:
			return errors.New("a trace op names none of comm, sample, lost, end")
		}
	}
	g.Close(tj.Dropped)
	return nil
}

// fieldValues turns decoded JSON numbers into the integers testtrace
// encodes.
func fieldValues(in map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(in))
	for k, v := range in {
		switch x := v.(type) {
		case string:
			out[k] = x
		case json.Number:
			if i, err := x.Int64(); err == nil {
				out[k] = i
				continue
			}
			u, err := strconv.ParseUint(string(x), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("field %q: %v is not an integer", k, x)
			}
			out[k] = u
		default:
			return nil, fmt.Errorf("field %q: %T is neither a string nor an integer", k, v)
		}
	}
	return out, nil
}
