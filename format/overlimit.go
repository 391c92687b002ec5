package format

import "fmt"

// overLimit returns the error saying that a file holds more than limit
// entries of what, the first time only: a file past a limit has it
// exceeded in every later block, and one warning says it.
func (f *File) overLimit(limit int, what string) error {
	if f.overLimits[what] {
		return nil
	}
	if f.overLimits == nil {
		f.overLimits = map[string]bool{}
	}
	f.overLimits[what] = true
	return fmt.Errorf("more than %d %s; the rest is ignored", limit, what)
}
