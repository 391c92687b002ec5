package format

// GroupTraces splits trace files given together into traces by what the
// files say, not by how they were named: the files of one rotated
// recording (one set id in their set blocks) are one trace, in the order
// their first file was given; any other file (a plain recording, a
// flight-recorder snapshot, whose windows may overlap) is a trace of its
// own. Each file is opened to read its set block.
func GroupTraces(paths []string) ([][]string, error) {
	var out [][]string
	bySet := map[string]int{}
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			return nil, err
		}
		s := f.Header.Set
		f.Close()
		if s != nil && s.ID != "" && s.Mode != "snapshot" {
			if i, ok := bySet[s.ID]; ok {
				out[i] = append(out[i], p)
				continue
			}
			bySet[s.ID] = len(out)
		}
		out = append(out, []string{p})
	}
	return out, nil
}
