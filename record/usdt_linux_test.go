//go:build linux

package record

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseUSDT(t *testing.T) {
	for _, c := range []struct {
		def, path, provider, name string
		args                      []string // field=n:type
	}{
		{"usdt:/usr/bin/python3.11:python:function__entry arg1:ustring arg2:ustring arg3", "/usr/bin/python3.11", "python", "function__entry",
			[]string{"arg1=1:ustring", "arg2=2:ustring", "arg3=3:"}},
		{"usdt:/bin/sh:throw", "/bin/sh", "", "throw", nil},
		{"usdt:/bin/sh:prov:func__* file=arg1:string", "/bin/sh", "prov", "func__*", []string{"file=1:string"}},
		{"usdt:libstdc++:libstdcxx:catch arg2:x64", "libstdc++", "libstdcxx", "catch", []string{"arg2=2:x64"}},
	} {
		d, err := parseUSDT(c.def)
		if err != nil {
			t.Errorf("%s: %v", c.def, err)
			continue
		}
		var args []string
		for _, a := range d.args {
			args = append(args, a.field+"="+itoa(a.n)+":"+a.typ)
		}
		if d.path != c.path || d.provider != c.provider || d.name != c.name || strings.Join(args, " ") != strings.Join(c.args, " ") {
			t.Errorf("%s: path %q provider %q name %q args %v", c.def, d.path, d.provider, d.name, args)
		}
	}
	for _, c := range []struct{ def, want string }{
		{"usdt:/bin/sh", "no marker name"},
		{"usdt:/bin/sh:", "no marker name"},
		{"usdt:/bin/sh:p:n arg0", "N from 1 to 12"},
		{"usdt:/bin/sh:p:n arg13", "N from 1 to 12"},
		{"usdt:/bin/sh:p:n x", "want argN"},
		{"usdt:/bin/sh:p:n arg1 arg1", "given twice"},
		{"usdt:/bin/sh:p:[n", "bad marker pattern"},
	} {
		_, err := parseUSDT(c.def)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a usage error saying %q", c.def, err, c.want)
		}
	}
}

// TestUSDTBinaryFromMaps finds a library of a running process by name, as
// -p 'usdt:libc:...' --pid does, through the process's own root.
func TestUSDTBinaryFromMaps(t *testing.T) {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	var lib string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 6 && strings.Contains(f[5], "/libc.so") {
			lib = f[5]
		}
	}
	pid := os.Getpid()
	if lib != "" { // a Go test binary is usually static; cgo builds map libc
		got, err := usdtBinary("libc", pid)
		if err != nil || !strings.HasSuffix(got, lib) {
			t.Errorf("usdtBinary(libc) = %q, %v; want .../%s", got, err, lib)
		}
	}
	if _, err := usdtBinary("kpcap-no-such-lib", pid); err == nil || !strings.Contains(err.Error(), "maps no file named") {
		t.Errorf("missing library: %v", err)
	}
	if _, err := usdtBinary("libc", 0); err == nil || !strings.Contains(err.Error(), "follow a process (PID)") {
		t.Errorf("library name without a PID: %v", err)
	}
}
