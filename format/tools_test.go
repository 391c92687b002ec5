package format

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// countCustomBlocks counts the pcapng custom blocks of a trace by decoding
// every frame: Wireshark lists each as a pseudo-frame.
func countCustomBlocks(t *testing.T, b []byte) int {
	t.Helper()
	f := openBytes(t, b)
	entries, _, err := readIndex(f.readAt, f.Size)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		raw, err := f.decodeFrame(e.Offset, e.CSize, nil)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(raw); {
			blk, next, err := nextBlock(raw, off)
			if err != nil {
				t.Fatal(err)
			}
			if blk.typ == blockCustom {
				n++
			}
			off = next
		}
	}
	return n
}

func lookTool(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// TestWiresharkReadsTrace checks that capinfos and tshark read a trace as is
// (zstd-compressed) and decompressed by zstd(1), one packet per sample.
func TestWiresharkReadsTrace(t *testing.T) {
	requireTool(t, lookTool("tshark") && lookTool("capinfos") && lookTool("zstd"), "tshark, capinfos and zstd")
	const n = 2500
	b := writeTrace(t, n, &WriterOptions{FrameBytes: 16 << 10}, true)
	custom := countCustomBlocks(t, b)
	dir := t.TempDir()
	zpath := filepath.Join(dir, "trace.pcapng.zst")
	if err := os.WriteFile(zpath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "trace.pcapng")
	out, err := exec.Command("zstd", "-q", "-d", "-o", plain, zpath).CombinedOutput()
	if err != nil {
		t.Fatalf("zstd -d: %v\n%s", err, out)
	}
	// zstd itself checks every frame's checksum and skips the index frame.
	if out, err := exec.Command("zstd", "-q", "-t", zpath).CombinedOutput(); err != nil {
		t.Fatalf("zstd -t: %v\n%s", err, out)
	}
	for _, p := range []string{zpath, plain} {
		out, err := exec.Command("capinfos", "-c", "-M", p).CombinedOutput()
		if err != nil {
			t.Fatalf("capinfos %s: %v\n%s", p, err, out)
		}
		if !strings.Contains(string(out), "Number of packets:   2500\n") {
			t.Errorf("capinfos %s:\n%s", p, out)
		}
		cmd := exec.Command("tshark", "-r", p, "-T", "fields", "-e", "frame.interface_id", "-e", "frame.protocols")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		tout, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark -r %s: %v\n%s", p, err, stderr.String())
		}
		// tshark complains on stderr about malformed files; only its
		// running-as-root notice is acceptable.
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if line != "" && !strings.Contains(line, "Running as user") {
				t.Errorf("tshark %s stderr: %s", p, line)
			}
		}
		samples, pseudo := 0, 0
		for _, line := range strings.Split(strings.TrimRight(string(tout), "\n"), "\n") {
			id, protos, _ := strings.Cut(line, "\t")
			switch {
			case id != "" && strings.HasPrefix(protos, "user_dlt"):
				samples++
			case id == "":
				pseudo++ // a custom block shown as a pseudo-frame
			default:
				t.Errorf("unexpected tshark frame %q", line)
			}
		}
		if samples != n || pseudo != custom {
			t.Errorf("tshark %s: %d packets and %d custom-block frames, want %d and %d", p, samples, pseudo, n, custom)
		}
	}
}
