package record

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// UsageError is a mistake in the options (exit status 2 in the CLI); so is
// a *FilterError, and an *OptionError wrapping a UsageError.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// OptionError is an error caused by one of the Options: Option is the
// field's name ("PID", "Cgroups", "BufferSize", ...) and Value the value at
// fault as given ("" when the option as a whole is). Err says what is
// wrong without naming options, so that a program exposing the options
// under names of its own (the CLI's flags) can name them its way.
type OptionError struct {
	Option string
	Value  string
	Err    error
}

func (e *OptionError) Error() string {
	if e.Value == "" {
		return e.Option + ": " + e.Err.Error()
	}
	return e.Option + " " + e.Value + ": " + e.Err.Error()
}

func (e *OptionError) Unwrap() error { return e.Err }

// optionUsage is an OptionError for a mistake in the option.
func optionUsage(option, value, format string, a ...any) error {
	return &OptionError{Option: option, Value: value, Err: &UsageError{fmt.Sprintf(format, a...)}}
}

// ErrNoDefaultEvents is the error of a recording that names no events or
// probes on a kernel that has none of the default ones.
var ErrNoDefaultEvents = errors.New("none of the default events exist on this kernel")

// FilterError is a filter (Options.Filter) the kernel refused for a
// source: a mistake in the options, like a UsageError.
type FilterError struct {
	Filter    string
	Source    string
	Err       error    // the kernel's answer (EINVAL)
	KernelLog string   // the tracefs error_log entry it wrote, if any
	Fields    []string // the source's fields (nil when unknown), when there is no KernelLog
}

func (e *FilterError) Error() string {
	msg := fmt.Sprintf("filter %q rejected by the kernel for %s: %v", e.Filter, e.Source, e.Err)
	if e.KernelLog != "" {
		return msg + "\n" + e.KernelLog
	}
	if e.Fields != nil {
		msg += fmt.Sprintf(" (check the operators and value types; %s has fields %s)", e.Source, strings.Join(e.Fields, ", "))
	}
	return msg
}

func (e *FilterError) Unwrap() error { return e.Err }

// writeError wraps an error from writing the trace at path, unless it
// names the file already (an OS error from writing it does).
func writeError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return err
	}
	return fmt.Errorf("write %s: %w", path, err)
}
