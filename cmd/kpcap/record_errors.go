//go:build linux

package main

import (
	"errors"
	"fmt"

	"github.com/kpcap/kpcap/record"
	"github.com/kpcap/kpcap/record/probedef"
	"github.com/kpcap/kpcap/replay/filter"
)

// recordFlags names the flag of each record.Options field a
// *record.OptionError can name.
var recordFlags = map[string]string{
	"PID":        "--pid",
	"Cgroups":    "--cgroup",
	"Triggers":   "--trigger",
	"Path":       "--path",
	"BufferSize": "--buffer-size",
	"MaxProbes":  "--max-probes",
}

// recordError words an error of record.Run for the command line: the
// options it names become their flags, mistakes in them usage errors (exit
// status 2).
func recordError(err error, res *record.Result) error {
	var oe *record.OptionError
	if errors.As(err, &oe) && err == error(oe) {
		if flag, ok := recordFlags[oe.Option]; ok {
			err = &flagError{flag: flag, err: oe}
		}
	}
	if errors.Is(err, record.ErrNoDefaultEvents) {
		err = fmt.Errorf("%w: give -e or -p", err)
	}
	var ue *record.UsageError
	var se *probedef.SyntaxError
	var fe *record.FilterError
	if errors.As(err, &fe) {
		return &usageError{explainFilter(fe)}
	}
	if errors.As(err, &ue) || errors.As(err, &se) {
		return &usageError{err.Error()}
	}
	if res != nil && res.Stats.Samples > 0 {
		return fmt.Errorf("%w (the file %s holds what was recorded before)", err, res.Output)
	}
	return err
}

// flagError is a record.OptionError worded with the option's flag.
type flagError struct {
	flag string
	err  *record.OptionError
}

func (e *flagError) Error() string {
	if e.err.Value == "" {
		return e.flag + ": " + e.err.Err.Error()
	}
	return e.flag + " " + e.err.Value + ": " + e.err.Err.Error()
}

func (e *flagError) Unwrap() error { return e.err }

// tracepointError is the usage error of a malformed -e spec, with how the
// flag takes several tracepoints or a probe where the spec calls for it.
func tracepointError(spec string, err error) error {
	var se *probedef.SyntaxError
	if !errors.As(err, &se) || se.Pos < 0 || se.Pos >= len(se.Def) {
		return usagef("%v", err)
	}
	hinted := *se
	switch c := se.Def[se.Pos]; {
	case (c == ' ' || c == '\t') && probedef.LooksLikeProbe(spec):
		hinted.Msg += " (it goes to -p)"
	case c == ' ' || c == '\t':
		hinted.Msg += " (one per -e)"
	case c == ',':
		hinted.Msg += " (-e A -e B)"
	}
	return usagef("%v", &hinted)
}

// explainFilter points at the bad token of a filter the kernel refused. The
// kernel says only EINVAL to perf (its error_log covers filters written to
// tracefs), so the offline parser of the same language locates syntax errors.
func explainFilter(rejected *record.FilterError) string {
	_, err := filter.Parse(rejected.Filter)
	var fe *filter.Error
	if !errors.As(err, &fe) {
		return rejected.Error() // valid syntax: the field list hint is the best help
	}
	bare := *rejected
	bare.Fields = nil // the caret says more than the field list
	return bare.Error() + "\n" + err.Error()
}
