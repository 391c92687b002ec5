//go:build linux

package record

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kpcap/kpcap/record/internal/usdt"
	"github.com/kpcap/kpcap/record/probedef"
)

// usdtPrefix starts a USDT probe definition.
const usdtPrefix = "usdt:"

// usdtDef is one parsed -p 'usdt:PATH:[PROVIDER:]NAME [ARG[:TYPE]]...'.
type usdtDef struct {
	def      string
	path     string // as given: a file, or with --pid a library name
	provider string // "" when not given
	name     string // marker name or glob
	args     []usdtArg
}

// usdtArg is one requested argument: [FIELD=]argN[:TYPE].
type usdtArg struct {
	field string // output field name, default argN
	n     int    // 1-based argument number
	typ   string // "" for the spec's size and signedness; string/ustring dereference
	raw   string
}

// isUSDT reports whether a -p definition names USDT markers.
func isUSDT(def string) bool { return strings.HasPrefix(strings.TrimSpace(def), usdtPrefix) }

// parseUSDT checks a USDT definition's syntax (the binary is read later).
func parseUSDT(def string) (*usdtDef, error) {
	fields := strings.Fields(def)
	bad := func(msg string) error {
		return &UsageError{fmt.Sprintf("bad probe %q: %s (usdt:PATH:PROVIDER:NAME [argN[:TYPE]]...)", def, msg)}
	}
	if len(fields) == 0 {
		return nil, bad("empty")
	}
	target := strings.TrimPrefix(fields[0], usdtPrefix)
	i := strings.LastIndexByte(target, ':')
	if i <= 0 || i == len(target)-1 {
		return nil, bad("no marker name after the binary")
	}
	d := &usdtDef{def: def, path: target[:i], name: target[i+1:]}
	// PATH:PROVIDER:NAME when PATH without its last part names the binary;
	// a path may itself hold a colon.
	if j := strings.LastIndexByte(d.path, ':'); j > 0 {
		if _, err := os.Stat(d.path); err != nil {
			d.path, d.provider = d.path[:j], d.path[j+1:]
		}
	}
	if _, err := path.Match(d.name, ""); err != nil {
		return nil, bad("bad marker pattern " + d.name)
	}
	if _, err := path.Match(d.provider, ""); err != nil {
		return nil, bad("bad provider pattern " + d.provider)
	}
	seen := map[string]bool{}
	for _, f := range fields[1:] {
		a := usdtArg{raw: f}
		spec := f
		if k, v, ok := strings.Cut(f, "="); ok {
			a.field, spec = k, v
		}
		spec, a.typ, _ = strings.Cut(spec, ":")
		num, ok := strings.CutPrefix(spec, "arg")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 1 || n > 12 || num != strconv.Itoa(n) {
			return nil, bad(fmt.Sprintf("argument %q: want argN[:TYPE] or FIELD=argN[:TYPE], N from 1 to 12", f))
		}
		a.n = n
		if a.field == "" {
			a.field = "arg" + num
		}
		if seen[a.field] {
			return nil, bad(fmt.Sprintf("field %s given twice", a.field))
		}
		seen[a.field] = true
		d.args = append(d.args, a)
	}
	return d, nil
}

// usdtBinary finds the file a definition names: a path, or with --pid a
// library of the process ("libstdc++.so.6", "libstdc++") through its maps.
func usdtBinary(p string, pid int) (string, error) {
	if strings.Contains(p, "/") {
		if _, err := os.Stat(p); err != nil {
			return "", &UsageError{fmt.Sprintf("usdt: %v", err)}
		}
		return p, nil
	}
	if pid == 0 {
		return "", &UsageError{fmt.Sprintf("usdt: %q is not a path: give the binary's path, or follow a process (PID) to find a library of it by name", p)}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return "", fmt.Errorf("usdt: maps of process %d: %w", pid, err)
	}
	var found []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasPrefix(f[5], "/") {
			continue
		}
		base := filepath.Base(f[5])
		if (base == p || strings.HasPrefix(base, p+".")) && !contains(found, f[5]) {
			found = append(found, f[5])
		}
	}
	switch len(found) {
	case 0:
		return "", &UsageError{fmt.Sprintf("usdt: process %d maps no file named %s", pid, p)}
	case 1:
		// The process's own view of the file (a container's root).
		return fmt.Sprintf("/proc/%d/root%s", pid, found[0]), nil
	}
	return "", &UsageError{fmt.Sprintf("usdt: %q is ambiguous in process %d: %s", p, pid, strings.Join(found, ", "))}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// usdtProbe is one marker turned into a uprobe.
type usdtProbe struct {
	probe *probedef.Probe // "p:PROVIDER/NAME PATH:0xOFF(0xSEMAPHORE) FETCHARGS"
}

// expandUSDT reads the binary's markers and builds one uprobe per marker
// matching d, with the requested arguments as fetchargs.
func expandUSDT(d *usdtDef, pid int) ([]usdtProbe, error) {
	bin, err := usdtBinary(d.path, pid)
	if err != nil {
		return nil, err
	}
	markers, err := usdt.Load(bin)
	if err != nil {
		return nil, fmt.Errorf("usdt: %w", err)
	}
	if len(markers) == 0 {
		return nil, &UsageError{fmt.Sprintf("usdt: %s has no USDT markers (no .note.stapsdt section)", bin)}
	}
	arch, err := elfArch(bin)
	if err != nil {
		return nil, err
	}
	var out []usdtProbe
	for _, m := range markers {
		if ok, _ := path.Match(d.name, m.Name); !ok {
			continue
		}
		if d.provider != "" {
			if ok, _ := path.Match(d.provider, m.Provider); !ok {
				continue
			}
		}
		up, err := markerProbe(d, bin, arch, m)
		if err != nil {
			return nil, err
		}
		out = append(out, up)
	}
	if len(out) == 0 {
		var names []string
		for _, m := range markers {
			if n := m.Provider + ":" + m.Name; !contains(names, n) {
				names = append(names, n)
			}
		}
		return nil, &UsageError{fmt.Sprintf("usdt: no marker %s in %s; its markers: %s", strings.TrimPrefix(d.provider+":"+d.name, ":"), bin, strings.Join(names, ", "))}
	}
	// A provider:name given several times (inlined markers) is one source
	// per site; without a provider, names of two providers are ambiguous.
	if d.provider == "" && !strings.ContainsAny(d.name, `*?[`) {
		provs := map[string]bool{}
		for _, u := range out {
			provs[u.probe.Group] = true
		}
		if len(provs) > 1 {
			return nil, &UsageError{fmt.Sprintf("usdt: marker %s is in several providers of %s: give usdt:PATH:PROVIDER:%s", d.name, bin, d.name)}
		}
	}
	return out, nil
}

// elfArch returns the GOARCH name of an ELF file's machine.
func elfArch(p string) (string, error) {
	f, err := elf.Open(p)
	if err != nil {
		return "", fmt.Errorf("usdt: %s: %w", p, err)
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64", nil
	case elf.EM_AARCH64:
		return "arm64", nil
	}
	return f.Machine.String(), nil
}

// markerProbe builds the uprobe of one marker.
func markerProbe(d *usdtDef, bin, arch string, m usdt.Marker) (usdtProbe, error) {
	specs, err := usdt.ParseArgSpecs(m.Args, arch)
	if err != nil && len(d.args) > 0 {
		return usdtProbe{}, fmt.Errorf("usdt: marker %s:%s in %s: %w", m.Provider, m.Name, bin, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "p:%s/%s %s:0x%x", ident(m.Provider), ident(m.Name), bin, m.Offset)
	if m.SemaphoreOffset != 0 {
		// PATH:OFFSET(REF): the kernel raises the semaphore while the probe is on.
		fmt.Fprintf(&b, "(0x%x)", m.SemaphoreOffset)
	}
	for _, a := range d.args {
		if a.n > len(specs) {
			return usdtProbe{}, &UsageError{fmt.Sprintf("usdt: marker %s:%s has %d arguments (%q): no arg%d", m.Provider, m.Name, len(specs), m.Args, a.n)}
		}
		sp := specs[a.n-1]
		fetch, typ := sp.Fetch(), sp.Type()
		switch a.typ {
		case "":
		case "string", "ustring":
			var ok bool
			if fetch, ok = sp.Deref(); !ok {
				return usdtProbe{}, &UsageError{fmt.Sprintf("usdt: arg%d of %s:%s is the constant %s, not a string pointer", a.n, m.Provider, m.Name, sp.Raw)}
			}
			typ = a.typ
		default:
			typ = a.typ
		}
		fmt.Fprintf(&b, " %s=%s:%s", a.field, fetch, typ)
	}
	p, err := probedef.Parse(b.String())
	if err != nil {
		return usdtProbe{}, fmt.Errorf("usdt: %s: %w", d.def, err)
	}
	return usdtProbe{probe: p}, nil
}

// ident turns a provider or marker name into an event name (C identifier).
func ident(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0) {
			b[i] = '_'
		}
	}
	return string(b)
}

// addUSDT resolves a USDT definition into one source per marker.
func (r *resolver) addUSDT(d *usdtDef, pid int) error {
	ups, err := expandUSDT(d, pid)
	if err != nil {
		return err
	}
	for _, up := range ups {
		if err := r.addProbeAs(up.probe, d.def, ""); err != nil {
			return err
		}
	}
	return nil
}

// ErrNoRefCtr explains a kernel that cannot enable semaphore-guarded markers.
var ErrNoRefCtr = errors.New("this kernel has no uprobe reference counters (Linux 4.20+), which enable markers guarded by a semaphore without writing the process's memory")

// refCtrShift returns where the uprobe PMU takes the reference counter
// offset in perf_event_attr.config ("config:32-63").
func refCtrShift() (uint, error) {
	b, err := os.ReadFile("/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset")
	if err != nil {
		return 0, ErrNoRefCtr
	}
	v, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "config:")
	lo, _, _ := strings.Cut(v, "-")
	n, err := strconv.ParseUint(lo, 10, 6)
	if !ok || err != nil {
		return 0, fmt.Errorf("unexpected uprobe ref_ctr_offset format %q", b)
	}
	return uint(n), nil
}
