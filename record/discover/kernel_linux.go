//go:build linux

package discover

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kpcap/kpcap/record/internal/tracefs"
	"golang.org/x/sys/unix"
)

// Places the kernel describes itself.
const (
	sysBus        = "/sys/bus/event_source/devices"
	kernelBTF     = "/sys/kernel/btf/vmlinux"
	kallsyms      = "/proc/kallsyms"
	kprobeBlackls = "/sys/kernel/debug/kprobes/blacklist"
)

// Kernel is what the running kernel offers to probes.
type Kernel struct {
	Release  string    `json:"release"`
	Machine  string    `json:"machine"`
	Tracefs  string    `json:"tracefs"`
	BTF      string    `json:"btf"` // the kernel's BTF file, "" when it has none
	Features []Feature `json:"features"`
}

// Feature is one probe form and whether this kernel supports it.
type Feature struct {
	Name      string `json:"name"`
	Syntax    string `json:"syntax"`    // how a definition (of Form) writes it
	Supported bool   `json:"supported"` //
	Detail    string `json:"detail"`    // the evidence when supported, the reason when not
	// Form says what Syntax is: a whole event or probe definition, or a
	// part of one (FormPart).
	Form FeatureForm `json:"-"`
}

// FeatureForm is the kind of definition a Feature's Syntax is.
type FeatureForm uint8

// Feature forms.
const (
	FormPart  FeatureForm = iota // a part of a probe definition: an argument, a type
	FormEvent                    // a whole event definition: an existing tracepoint
	FormProbe                    // a whole probe definition, created for the recording
)

// Feature returns the feature called name, or nil.
func (k *Kernel) Feature(name string) *Feature {
	for i := range k.Features {
		if k.Features[i].Name == name {
			return &k.Features[i]
		}
	}
	return nil
}

// ReadKernel examines the running kernel: tracefs (found, or mounted as
// kpcap record does), its README (the syntax the kernel's probe parsers
// accept, the same test the kernel's own selftests use), the kprobe and
// uprobe PMUs and the BTF file.
func ReadKernel(t *Tracing) (*Kernel, error) {
	fs := t.fs()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return nil, fmt.Errorf("uname: %w", err)
	}
	k := &Kernel{Release: unix.ByteSliceToString(u.Release[:]), Machine: unix.ByteSliceToString(u.Machine[:]), Tracefs: fs.Dir}
	readme, err := os.ReadFile(filepath.Join(fs.Dir, "README"))
	if err != nil {
		return nil, fmt.Errorf("read tracefs README: %w", err)
	}
	if exists(kernelBTF) {
		k.BTF = kernelBTF
	}
	fr := &featureReader{k: k, dir: fs.Dir, readme: string(readme)}
	events, _ := os.ReadDir(filepath.Join(fs.Dir, "events"))
	fr.add("tracepoints", FormEvent, "SUBSYS:EVENT", len(events) > 0,
		fmt.Sprintf("%d event groups in %s/events", len(events), fs.Dir), "no event groups in "+fs.Dir+"/events")
	kp := fr.kprobes()
	up := fr.uprobes()
	// The README lists e: whatever the configuration: only the kernel's
	// verdict on a real definition tells.
	ep, epWhy := eprobeWorks(fs, events)
	fr.argForms(kp, up, ep, epWhy)
	return k, nil
}

// featureReader adds the features of a kernel as its tracefs README and
// PMUs show them.
type featureReader struct {
	k      *Kernel
	dir    string // tracefs
	readme string
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// has reports whether the tracefs README mentions s.
func (fr *featureReader) has(s string) bool { return strings.Contains(fr.readme, s) }

// pmu describes the PMU called name, and whether it exists.
func (fr *featureReader) pmu(name string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(sysBus, name, "type"))
	if err != nil {
		return "no " + name + " PMU in " + sysBus, false
	}
	return name + " PMU type " + strings.TrimSpace(string(b)), true
}

// add adds a feature: yes is its evidence when ok, no the reason otherwise.
func (fr *featureReader) add(name string, form FeatureForm, syntax string, ok bool, yes, no string) {
	d := yes
	if !ok {
		d = no
	}
	fr.k.Features = append(fr.k.Features, Feature{Name: name, Syntax: syntax, Supported: ok, Detail: d, Form: form})
}

// kprobes adds the kprobe forms and reports whether kprobes work.
func (fr *featureReader) kprobes() bool {
	kpFile := exists(filepath.Join(fr.dir, "kprobe_events"))
	kpPMU, kpPMUok := fr.pmu("kprobe")
	kpWhy := "no kprobe_events in " + fr.dir + " and " + kpPMU + ": the kernel is built without CONFIG_KPROBES/CONFIG_KPROBE_EVENTS"
	switch {
	case kpFile && !kpPMUok:
		kpWhy = "kprobe_events exists but " + kpPMU + " (Linux < 4.17?)"
	case !kpFile && kpPMUok:
		kpWhy = kpPMU + " but no kprobe_events in " + fr.dir + " (CONFIG_KPROBE_EVENTS off)"
	}
	kp := kpFile && kpPMUok
	fr.add("kprobe", FormProbe, "p SYMBOL[+OFFS] [ARGS]", kp, "kprobe_events, "+kpPMU, kpWhy)
	fr.add("kretprobe", FormProbe, "r[MAXACTIVE] SYMBOL [ARGS]", kp, "kprobe_events, "+kpPMU, kpWhy)
	fr.add("kprobe %return", FormProbe, "p SYMBOL%return", kp && fr.has("%return"), "in the tracefs README", missing(kp, kpWhy, "%return"))
	return kp
}

// uprobes adds the uprobe forms and reports whether uprobes work.
func (fr *featureReader) uprobes() bool {
	upFile := exists(filepath.Join(fr.dir, "uprobe_events"))
	upPMU, upPMUok := fr.pmu("uprobe")
	up := upFile && upPMUok
	upWhy := "no uprobe_events in " + fr.dir + " or " + upPMU + ": the kernel is built without CONFIG_UPROBE_EVENTS"
	fr.add("uprobe", FormProbe, "p PATH:SYMBOL[+OFFS] [ARGS]", up, "uprobe_events, "+upPMU, upWhy)
	fr.add("uretprobe", FormProbe, "r PATH:SYMBOL [ARGS]", up, "uprobe_events, "+upPMU, upWhy)
	fr.add("uprobe reference counter", FormPart, "PATH:OFFSET(REF_CTR_OFFSET) (USDT semaphores)", up && fr.has("(ref_ctr_offset)"),
		"in the tracefs README", missing(up, upWhy, "(ref_ctr_offset)"))
	return up
}

// argForms adds fprobes, tracepoint and event probes, and the argument
// forms and types.
func (fr *featureReader) argForms(kp, up, ep bool, epWhy string) {
	k := fr.k
	fr.add("fprobe", FormProbe, "f SYMBOL[%return] [ARGS]", fr.has("f[:[<group>/][<event>]] <func-name>"),
		"in the tracefs README", "not in the tracefs README: needs Linux 6.5+ with CONFIG_FPROBE_EVENTS")
	fr.add("tracepoint probe", FormProbe, "t TRACEPOINT [ARGS]", fr.has("t[:[<group>/][<event>]] <tracepoint>"),
		"in the tracefs README", "not in the tracefs README: needs Linux 6.5+ with CONFIG_FPROBE_EVENTS")
	fr.add("event probe", FormProbe, "e SUBSYS.EVENT [ARGS]", ep, epWhy, epWhy)
	dyn := kp || fr.has("f[:[<group>/][<event>]]")
	fr.add("$argN", FormPart, "$arg1, $arg2, ...", dyn && fr.has("$arg<N>"), "in the tracefs README",
		missing(dyn, "no kprobes or fprobes", "$arg<N>"))
	btfArgs := dyn && fr.has("<argname>") && k.BTF != ""
	btfWhy := "no kprobes or fprobes"
	switch {
	case !dyn:
	case k.BTF == "":
		btfWhy = "no kernel BTF (" + kernelBTF + " missing: CONFIG_DEBUG_INFO_BTF off)"
	default:
		btfWhy = "<argname> not in the tracefs README: needs Linux 6.5+ with CONFIG_PROBE_EVENTS_BTF_ARGS"
	}
	fr.add("BTF argument names", FormProbe, "p vfs_read file count", btfArgs, "in the tracefs README, BTF "+k.BTF, btfWhy)
	fr.add("BTF struct members", FormPart, "arg->field, arg->a.b", btfArgs && fr.has("->field"), "in the tracefs README",
		missing(btfArgs, btfWhy, "->field"))
	fr.add("arguments in return probes", FormPart, "r SYMBOL $arg1 (or a BTF name)", dyn && fr.has("kernel return probes support: $retval, $arg<N>"),
		"in the tracefs README", missing(dyn, "no kprobes or fprobes", "\"kernel return probes support: $retval, $arg<N>\" (Linux 6.9+)"))
	for _, t := range []struct{ name, readme, since string }{
		{"symstr", "symstr", "6.2"}, {"char", "char,", "6.5"}, {"%pd", "%pd", "6.10"}, {"ustring", "ustring", "5.5"},
	} {
		fr.add("type "+t.name, FormPart, ":"+t.name, (kp || up) && fr.has(t.readme), "in the tracefs README",
			missing(kp || up, "no kprobes or uprobes", t.readme+" (Linux "+t.since+"+)"))
	}
	fr.add("BTF", FormPart, "BTF argument names and struct members", k.BTF != "", kernelBTF,
		kernelBTF+" missing: the kernel is built without CONFIG_DEBUG_INFO_BTF")
}

// missing is the reason a README-advertised form is unsupported: the
// prerequisite's reason when that is missing, else the README's silence.
func missing(prereq bool, why, readme string) string {
	if !prereq {
		return why
	}
	return readme + " not in the tracefs README"
}

// Function is a kernel function a kprobe can target.
type Function struct {
	Name   string `json:"name"`
	Module string `json:"module,omitempty"` // "" for vmlinux
}

// FunctionSource says where Functions found the names and what it could not
// check.
type FunctionSource struct {
	From        string   `json:"from"`        // the file listed
	Notes       []string `json:"notes"`       // fallbacks taken and checks skipped, with reasons
	Blacklisted int      `json:"blacklisted"` // functions left out as unprobeable
}

// Functions calls fn with every probeable kernel function whose name matches
// the glob pattern ("" for all), as it reads them: tracefs
// available_filter_functions (what kprobes and fprobes can attach to),
// else the text symbols of /proc/kallsyms, minus the kprobe blacklist when
// debugfs makes it readable. Each note (a fallback taken, a check skipped)
// goes to note (if not nil) before the first function it concerns. An error
// from fn stops the listing.
func Functions(t *Tracing, pattern string, note func(string), fn func(Function) error) (*FunctionSource, error) {
	fs := t.fs()
	src := &FunctionSource{}
	addNote := func(s string) {
		src.Notes = append(src.Notes, s)
		if note != nil {
			note(s)
		}
	}
	black, err := readBlacklist(kprobeBlackls)
	if err != nil {
		addNote(err.Error())
	}
	emit := func(f Function) error {
		if !match(pattern, f.Name) {
			return nil
		}
		if black[f.Name] {
			src.Blacklisted++
			return nil
		}
		return fn(f)
	}
	aff := filepath.Join(fs.Dir, "available_filter_functions")
	fh, err := os.Open(aff)
	if err == nil {
		defer fh.Close()
		src.From = aff
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			// "name" or "name [module]"
			name, mod, _ := strings.Cut(sc.Text(), " ")
			if name == "" {
				continue
			}
			if err := emit(Function{Name: name, Module: strings.Trim(mod, "[]")}); err != nil {
				return src, err
			}
		}
		if err := sc.Err(); err != nil {
			return src, fmt.Errorf("read %s: %w", aff, err)
		}
		return src, nil
	}
	addNote(fmt.Sprintf("%s unreadable (%v): listing the text symbols of %s instead, which include some functions ftrace cannot attach to",
		aff, errors.Unwrap(err), kallsyms))
	return src, kallsymsFunctions(src, emit)
}

// kallsymsFunctions lists the text symbols (t, T) of /proc/kallsyms, each
// name once, without the __pfx_/__cfi_ padding symbols.
func kallsymsFunctions(src *FunctionSource, emit func(Function) error) error {
	fh, err := os.Open(kallsyms)
	if err != nil {
		return fmt.Errorf("list kernel functions: %w", err)
	}
	defer fh.Close()
	src.From = kallsyms
	seen := map[string]bool{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		// "ffffffff81000000 T _stext" or "... t name\t[module]"
		f := strings.Fields(sc.Text())
		if len(f) < 3 || (f[1] != "t" && f[1] != "T") {
			continue
		}
		name := f[2]
		if strings.HasPrefix(name, "__pfx_") || strings.HasPrefix(name, "__cfi_") || seen[name] {
			continue
		}
		seen[name] = true
		mod := ""
		if len(f) > 3 {
			mod = strings.Trim(f[3], "[]")
		}
		if err := emit(Function{Name: name, Module: mod}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", kallsyms, err)
	}
	return nil
}

// readBlacklist returns the names in path, debugfs kprobes/blacklist
// ("0xSTART-0xEND\tNAME" lines), or an error saying why it is unknown.
func readBlacklist(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		why := err.Error()
		if errors.Is(err, os.ErrNotExist) {
			why = "missing (debugfs not mounted at /sys/kernel/debug, or no kprobes)"
		}
		return nil, fmt.Errorf("kprobe blacklist %s %s: functions kprobes refuse are not left out", path, why)
	}
	black := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			black[f[1]] = true
		}
	}
	return black, nil
}

// Tracepoint is a trace event of the kernel.
type Tracepoint struct {
	Name string `json:"name"` // SUBSYS:EVENT
}

// Tracepoints returns the trace events matching pattern (SUBSYS:EVENT, either
// part a glob; without ':' the event name in every group), "" for all.
func Tracepoints(t *Tracing, pattern string) ([]Tracepoint, error) {
	fs := t.fs()
	if pattern == "" {
		pattern = "*:*"
	}
	names, err := fs.Glob(pattern)
	if err != nil {
		return nil, err
	}
	out := make([]Tracepoint, len(names))
	for i, n := range names {
		out[i] = Tracepoint{Name: n}
	}
	return out, nil
}

// TracepointFormat returns the fields of trace event SUBSYS:EVENT from its
// tracefs format file, without the common_* header fields.
func TracepointFormat(t *Tracing, name string) ([]string, error) {
	fs := t.fs()
	group, event, ok := strings.Cut(name, ":")
	if !ok {
		return nil, fmt.Errorf("bad trace event %q: want SUBSYS:EVENT", name)
	}
	f, err := fs.Format(group, event)
	if err != nil {
		return nil, err
	}
	var fields []string
	for _, l := range strings.Split(f, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "field:") || strings.Contains(l, " common_") {
			continue
		}
		fields = append(fields, l)
	}
	return fields, nil
}

// eprobeWorks creates an event probe on the first tracepoint in
// dynamic_events, under kpcap's own group, and removes it at once: the only
// reliable test, since the README shows the e: form on every kernel
// (CONFIG_EPROBE_EVENTS off refuses it with EINVAL).
func eprobeWorks(fs *tracefs.FS, groups []os.DirEntry) (bool, string) {
	dyn := filepath.Join(fs.Dir, "dynamic_events")
	if _, err := os.Stat(dyn); err != nil {
		return false, "no dynamic_events in " + fs.Dir + " (Linux < 5.15?)"
	}
	target := ""
	for _, g := range groups {
		if !g.IsDir() || strings.HasPrefix(g.Name(), "kpcap_") {
			continue
		}
		evs, _ := os.ReadDir(filepath.Join(fs.Dir, "events", g.Name()))
		for _, e := range evs {
			if e.IsDir() {
				target = g.Name() + "." + e.Name()
				break
			}
		}
		if target != "" {
			break
		}
	}
	if target == "" {
		return false, "no tracepoint to attach an event probe to"
	}
	name := fs.GroupName(os.Getpid()) + "/eprobe_check"
	err := appendLine(dyn, "e:"+name+" "+target)
	if err != nil {
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return false, "the kernel refuses e: definitions (CONFIG_EPROBE_EVENTS off, or Linux < 5.15)"
		}
		return false, fmt.Sprintf("could not test an event probe: %v", err)
	}
	if err := appendLine(dyn, "-:"+name); err != nil {
		return true, fmt.Sprintf("a test event probe was created but not removed (%v): remove it with echo '-:%s' >> %s", err, name, dyn)
	}
	return true, "a test event probe on " + target + " was accepted (and removed)"
}

// appendLine writes one command to a tracefs control file, appending: a
// truncating write would delete every dynamic event, other tools' too.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte(line + "\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
