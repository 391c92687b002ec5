//go:build linux

package vmtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseSerial checks the job channel parser on well-formed and broken
// outputs, without booting anything.
func TestParseSerial(t *testing.T) {
	good := "noise before init\r\n" +
		"KPCAP-VM-BOOTED 6.1.0-56-amd64 2.31\r\n" +
		"KPCAP-JOB-BEGIN one\r\n" +
		"hello from one\r\n" +
		"KPCAP-FILE-BEGIN out.bin\r\n" +
		"aGVsbG8g\r\n" + // "hello " split over two lines, as base64 wraps
		"d29ybGQ=\r\n" +
		"KPCAP-FILE-END\r\n" +
		"KPCAP-JOB-END one rc=3 secs=1.5\r\n" +
		"KPCAP-JOB-BEGIN two\r\n" +
		"KPCAP-JOB-END two rc=0 secs=0.2\r\n" +
		"KPCAP-VM-DONE 9.75\r\n"
	tests := []struct {
		name    string
		serial  string
		wantErr string
	}{
		{"good", good, ""},
		{"no init", "kernel panic\n", "never reached /init"},
		{"no done", strings.Replace(good, "KPCAP-VM-DONE 9.75\r\n", "", 1), "did not report the end"},
		{"job cut", good[:strings.Index(good, "KPCAP-JOB-END one")], "job one did not finish"},
		{"file cut", good[:strings.Index(good, "KPCAP-FILE-END")], "truncated"},
		{"bad base64", strings.Replace(good, "d29ybGQ=", "d29y!GQ=", 1), "bad base64"},
		{"bad name", strings.Replace(good, "FILE-BEGIN out.bin", "FILE-BEGIN ../x", 1), "bad file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			res := &Result{Jobs: map[string]*JobResult{}}
			err := parseSerial([]byte(tt.serial), dir, res)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Release != "6.1.0-56-amd64" || res.BootTime != 2.31 || res.Uptime != 9.75 {
				t.Errorf("release %q boot %v uptime %v", res.Release, res.BootTime, res.Uptime)
			}
			if strings.Join(res.Order, ",") != "one,two" {
				t.Errorf("order %v", res.Order)
			}
			one := res.Jobs["one"]
			if one.RC != 3 || one.Seconds != 1.5 || one.Log != "hello from one\n" {
				t.Errorf("job one: %+v", one)
			}
			b, err := os.ReadFile(one.Files["out.bin"])
			if err != nil || string(b) != "hello world" {
				t.Errorf("out.bin = %q, %v", b, err)
			}
			if filepath.Dir(one.Files["out.bin"]) != filepath.Join(dir, "files", "one") {
				t.Errorf("file path %s", one.Files["out.bin"])
			}
			if res.Jobs["two"].RC != 0 || len(res.Jobs["two"].Files) != 0 {
				t.Errorf("job two: %+v", res.Jobs["two"])
			}
		})
	}
}
