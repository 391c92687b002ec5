package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// readCustom decodes one kpcap custom block payload.
func (f *File) readCustom(kind uint32, p []byte) error {
	if kind == kindVersion {
		return nil
	}
	if len(p) > maxMetaPayload {
		return fmt.Errorf("payload of %d bytes exceeds %d; ignored", len(p), maxMetaPayload)
	}
	if f.metaBytes+int64(len(p)) > maxMetaTotal {
		return fmt.Errorf("metadata exceeds %d MiB; ignored", maxMetaTotal>>20)
	}
	f.metaBytes += int64(len(p))
	var err error
	switch kind {
	case kindHost:
		var h Host
		if err = json.Unmarshal(p, &h); err == nil {
			f.Header.Host = h
		}
	case kindCapture:
		var c Capture
		if err = json.Unmarshal(p, &c); err == nil {
			f.Header.Capture = c
		}
	case kindSources:
		var s []sourceJSON
		if err = json.Unmarshal(p, &s); err == nil {
			f.gotSrcs = append(f.gotSrcs, s[:min(len(s), MaxSources-min(len(f.gotSrcs), MaxSources))]...)
		}
	case kindSymbols:
		err = appendJSON(f, &f.Symbols, p, "kernel symbols")
	case kindUserFrames:
		err = appendJSON(f, &f.UserFrames, p, "user frames")
	case kindComms:
		err = appendJSONMax(f, &f.Comms, p, MaxComms, "comm records")
	case kindLost:
		err = appendJSON(f, &f.Lost, p, "loss records")
	case kindNotes:
		err = appendJSON(f, &f.Header.Notes, p, "notes")
	case kindSet:
		// The header's block, then the final one: later keys win.
		if f.Header.Set == nil {
			f.Header.Set = &SetInfo{}
		}
		err = json.Unmarshal(p, f.Header.Set)
	case kindCgroups:
		err = appendJSON(f, &f.Cgroups, p, "cgroups")
	case kindTaskCgroups:
		err = appendJSON(f, &f.TaskCgroups, p, "task cgroup records")
	default:
		// Later minor versions may add kinds; they are optional by rule.
	}
	if err != nil {
		return fmt.Errorf("bad payload: %v", err)
	}
	return nil
}

// appendJSON decodes a JSON array element by element, so that the number
// of entries kept from a file stays bounded whatever the payload holds.
func appendJSON[T any](f *File, dst *[]T, p []byte, what string) error {
	return appendJSONMax(f, dst, p, maxMetaEntries, what)
}

// appendJSONMax is appendJSON keeping at most limit entries in dst.
func appendJSONMax[T any](f *File, dst *[]T, p []byte, limit int, what string) error {
	if len(*dst) >= limit {
		return f.overLimit(limit, what)
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return errors.New("payload is not a JSON array")
	}
	for dec.More() {
		if f.metaEntries >= maxMetaEntries {
			return f.overLimit(maxMetaEntries, "metadata entries")
		}
		if len(*dst) >= limit {
			return f.overLimit(limit, what)
		}
		var v T
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*dst = append(*dst, v)
		f.metaEntries++
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	return nil
}
