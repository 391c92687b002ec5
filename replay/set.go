package replay

import "github.com/kpcap/kpcap/format"

// OpenSet opens several trace files as one trace, merged in time order
// (format.OpenSet): the files of a rotated recording, kept or not, or any
// traces of one host. Entry/return pairs and comms that span two files
// read as in one file; File().Parts and File().Gaps describe the files.
// Paths may come from format.ExpandPaths (directories, quoted globs).
func OpenSet(paths []string, opts Options) (*Reader, error) {
	f, err := format.OpenSet(paths)
	return readerOwning(f, err, opts)
}
