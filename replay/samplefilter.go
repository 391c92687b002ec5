package replay

import (
	"fmt"
	"strings"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay/filter"
	"github.com/kpcap/kpcap/replay/internal/eventfmt"
)

// CompileSampleFilter compiles an ftrace filter expression for the samples
// of one source, decoded as the Reader decodes them (the source's own
// fields first, then cpu and common_pid; comm is not available). The
// recorder's triggers use it: record cannot import replay, so the CLI hands
// it this function.
func CompileSampleFilter(src format.Source, expr string) (func(*format.Sample) bool, error) {
	e, err := filter.Parse(expr)
	if err != nil {
		return nil, err
	}
	ev, err := eventfmt.Parse(src.Format)
	if err != nil {
		return nil, fmt.Errorf("%s: event format: %w", src.Name, err)
	}
	sd := &sourceDec{src: &src, ev: ev}
	resolve := func(name string) (filter.Field, bool) {
		if name == "comm" || name == "COMM" {
			return filter.Field{}, false
		}
		return sd.resolve(name)
	}
	pred, ok, err := e.Compile(resolve)
	if err != nil {
		return nil, err
	}
	if !ok {
		var names []string
		for _, f := range ev.Fields {
			names = append(names, f.Name)
		}
		return nil, fmt.Errorf("%s has no field %s (it has %s, cpu, common_pid)", src.Name, strings.Join(e.Fields(), ", "), strings.Join(names, ", "))
	}
	row := &filterRow{sd: sd}
	return func(s *format.Sample) bool {
		row.s = s
		return pred(row)
	}, nil
}
