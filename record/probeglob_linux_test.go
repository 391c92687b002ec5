//go:build linux

package record

import "testing"

func TestSplitProbeGlob(t *testing.T) {
	for _, tc := range []struct {
		def                string
		head, target, rest string
		ok                 bool
	}{
		{"p vfs_*", "p", "vfs_*", "", true},
		{"r tcp_* $retval", "r", "tcp_*", "$retval", true},
		{"p tcp_*%return", "r", "tcp_*", "", true},
		{"r16 tcp_v4_*", "r16", "tcp_v4_*", "", true},
		{"f vfs_read*", "f", "vfs_read*", "", true},
		{"f vfs_write*%return $retval", "fr", "vfs_write*", "$retval", true},
		{"p /usr/bin/bash:*readline*", "p", "/usr/bin/bash:*readline*", "", true},
		{"f /usr/bin/bash:*readline*", "", "", "", false}, // fprobes are kernel-only
		{"p vfs_read", "", "", "", false},
		{"t sched_*", "", "", "", false},
		{"p /usr/bin/ba*sh:main", "", "", "", false}, // only the function is a pattern
	} {
		head, target, rest, ok := splitProbeGlob(tc.def)
		if head != tc.head || target != tc.target || rest != tc.rest || ok != tc.ok {
			t.Errorf("splitProbeGlob(%q) = %q %q %q %v, want %q %q %q %v", tc.def, head, target, rest, ok, tc.head, tc.target, tc.rest, tc.ok)
		}
	}
}
