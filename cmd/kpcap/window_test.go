package main

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestWindowSameInReplayAndAnalyze checks that one --since/--until selects
// the same events in kpcap replay and kpcap analyze. The sample trace's
// capture starts before its first sample, so counting from different origins
// (as analyze once did, from the first sample) shows in a window 300ms past it.
func TestWindowSameInReplayAndAnalyze(t *testing.T) {
	bin := buildKpcap(t)
	trace := filepath.Join("..", "..", "testdata", "kernels", "openat-6.12.pcapng.zst")
	all, stderr, code := runBin(t, bin, "replay", "-q", "-f", "json", trace)
	var first struct {
		TS uint64 `json:"ts"`
	}
	if code != 0 || json.Unmarshal([]byte(strings.SplitN(all, "\n", 2)[0]), &first) != nil || first.TS == 0 {
		t.Fatalf("replay: exit %d, %s", code, stderr)
	}
	// Windows start where the samples do: the capture began this long before
	// the first one (tens to hundreds of ms, as busy the recording VM was).
	info, stderr, code := runBin(t, bin, "info", "--json", trace)
	var hdr struct {
		StartNS uint64 `json:"start_ns"`
	}
	if code != 0 || json.Unmarshal([]byte(info), &hdr) != nil || hdr.StartNS == 0 || hdr.StartNS > first.TS {
		t.Fatalf("info --json: exit %d, start_ns %d, first sample %d: %s", code, hdr.StartNS, first.TS, stderr)
	}
	gap := (first.TS - hdr.StartNS) / 1e6 // ms
	ms := func(d uint64) string { return strconv.FormatUint(gap+d, 10) + "ms" }
	for _, w := range [][]string{
		{"--until", ms(300)},
		{"--since", ms(300), "--until", ms(2500)},
		{"--since", ms(1000)},
		{"--until", strconv.FormatUint(first.TS+1, 10)}, // absolute ns: just after the first sample
	} {
		out, stderr, code := runBin(t, bin, append(append([]string{"replay", "-q", "-f", "json"}, w...), trace)...)
		if code != 0 {
			t.Fatalf("replay %v: exit %d: %s", w, code, stderr)
		}
		replayed := strings.Count(out, "\n")
		r := runCLI(t, bin, append(append([]string{"analyze", "summary", "-q", "--json"}, w...), trace)...)
		if r.code != 0 {
			t.Fatalf("analyze summary %v: exit %d: %s", w, r.code, r.stderr)
		}
		var s struct {
			Events int `json:"events"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
			t.Fatalf("analyze summary --json: %v", err)
		}
		if replayed == 0 || s.Events != replayed {
			t.Errorf("%v: replay printed %d events, analyze summary counted %d", w, replayed, s.Events)
		}
	}
	for _, tool := range [][]string{{"replay"}, {"analyze", "summary"}} {
		r := runCLI(t, bin, append(tool, "--since", "2s", "--until", "1s", trace)...)
		if r.code != 2 || !strings.Contains(r.stderr, "--until 1s is not after --since 2s") {
			t.Errorf("%v with an empty window: exit %d, stderr %q", tool, r.code, r.stderr)
		}
	}
}

// TestSelectionErrorsAreUsage checks that a --probe matching nothing or a
// malformed --filter is a command-line mistake (exit 2) in analyze as in replay.
func TestSelectionErrorsAreUsage(t *testing.T) {
	bin := buildKpcap(t)
	trace := filepath.Join("..", "..", "testdata", "kernels", "openat-6.12.pcapng.zst")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"replay", "--probe", "nope"}, "no source matches --probe nope"},
		{[]string{"analyze", "summary", "--probe", "nope"}, "kpcap analyze: no source matches --probe nope"},
		{[]string{"analyze", "latency", "--filter", "flags = 1"}, "unexpected character '=' at column 7"},
		{[]string{"analyze", "flame", "--filter", "(pid == 1"}, "want ')'"},
	} {
		r := runCLI(t, bin, append(tc.args, trace)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("kpcap %q: exit %d, stderr %q; want exit 2 and %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
}
