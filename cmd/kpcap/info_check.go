package main

import (
	"fmt"
	"io"

	"github.com/kpcap/kpcap/format"
)

// infoCheck is what `kpcap info --check` found reading every sample frame.
type infoCheck struct {
	Frames int          `json:"frames"` // sample frames read
	Events uint64       `json:"events"` // events read intact
	Damage []infoDamage `json:"damage"` // damaged frames, in file order
}

// infoDamage is one damaged sample frame.
type infoDamage struct {
	Frame  int    `json:"frame"`            // index among the sample frames
	File   string `json:"file,omitempty"`   // the file of a set holding it
	Offset int64  `json:"offset"`           // byte offset of the frame in its file
	Error  string `json:"error"`            // what is wrong: the damaged block's kind and raw offset, or the frame's
	Before uint64 `json:"events_before"`    // events of the trace read before the damage
	Read   uint64 `json:"events_in_frame"`  // events of the frame read before the damage
	Bytes  int64  `json:"compressed_bytes"` // the frame's compressed size
}

// checkFrames decompresses every sample frame of f and walks its blocks,
// recording where each damaged one breaks and what was read before it.
func checkFrames(f *format.File) *infoCheck {
	c := &infoCheck{Damage: []infoDamage{}}
	var buf []byte
	for i, fr := range f.Frames {
		data, err := f.ReadFrame(i, buf)
		var n uint64
		if err == nil {
			buf = data
			err = format.ForEachSample(data, func(*format.Sample) error { n++; return nil })
		}
		if err != nil {
			d := infoDamage{Frame: i, Offset: fr.Offset, Error: err.Error(), Before: c.Events + n, Read: n, Bytes: fr.CSize}
			if len(f.Parts) > 1 && fr.Part < len(f.Parts) {
				d.File = f.Parts[fr.Part].Path
			}
			c.Damage = append(c.Damage, d)
		}
		c.Frames++
		c.Events += n
	}
	return c
}

// printCheck writes the check's section of `kpcap info`.
func printCheck(out io.Writer, c *infoCheck) {
	fmt.Fprintf(out, "\nCheck:       %d sample frames read, %d events intact, %d damaged frames\n", c.Frames, c.Events, len(c.Damage))
	for _, d := range c.Damage {
		where := ""
		if d.File != "" {
			where = " of " + d.File
		}
		fmt.Fprintf(out, "  - sample frame %d%s at byte offset %d (%d bytes): %s; %d events of the frame and %d of the trace read before it\n",
			d.Frame, where, d.Offset, d.Bytes, d.Error, d.Read, d.Before)
	}
}

// checkErr is the one-line error of a check that found damage.
func checkErr(path string, c *infoCheck) error {
	if len(c.Damage) == 0 {
		return nil
	}
	d := c.Damage[0]
	return fmt.Errorf("%s: %d damaged sample frames; the first at byte offset %d: %s", path, len(c.Damage), d.Offset, d.Error)
}
