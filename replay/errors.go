package replay

import (
	"errors"
	"fmt"
	"strings"
)

// SelectError is NewReader's error when Options.Probes selects none of the
// trace's sources.
type SelectError struct {
	Probes  []string // the patterns given
	Sources []string // the trace's source names
}

func (e *SelectError) Error() string {
	return fmt.Sprintf("no source matches %s; the trace has: %s", strings.Join(e.Probes, ","), strings.Join(e.Sources, ", "))
}

// ErrFilterFields is wrapped by NewReader's error when no selected source
// has all of the fields Options.Filter names. A filter that does not parse,
// or compares a field with a value of another type, gives a *filter.Error.
var ErrFilterFields = errors.New("filter: no selected source has all of the fields")
