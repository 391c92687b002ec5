package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/kpcap/kpcap/record/discover"
)

func init() {
	register(&command{
		name:    "list",
		summary: "list what can be probed: tracepoints, kernel functions, BTF types, a binary's functions and USDT markers",
		usage:   listUsage,
		run:     runList,
	})
}

const listUsage = `Usage: kpcap list [options] [PATTERN | -v NAME | PATH [PATTERN]]

List what kpcap record can probe, as perf list, perf probe -F/-V and
bpftrace -l do:

  kpcap list                     every tracepoint and probeable kernel function
  kpcap list 'sched:*'           tracepoints matching SUBSYS:EVENT (globs)
  kpcap list 'vfs_*'             kernel functions and tracepoint events matching a glob
  kpcap list --features          the probe forms this kernel supports, and why others are missing
  kpcap list -v sched:sched_switch  a tracepoint's fields
  kpcap list -v vfs_read         a kernel function's BTF prototype, argument by argument
  kpcap list -v 'struct file'    a struct's members with offsets (BTF), as pahole shows them
  kpcap list /usr/bin/python3.11 a binary's functions and USDT markers (uprobe targets)

Kernel functions come from tracefs available_filter_functions (else the text
symbols of /proc/kallsyms), minus the kprobe blacklist when debugfs is
mounted; a kernel without kprobes still lists them, saying on stderr that
kprobes are unavailable and why. tracefs is mounted if needed (root).
USDT markers print as PROVIDER:NAME with their argument spec and, when they
have one, their semaphore (the uprobe reference counter).

Output is one item per line, written as found (pipes and head work);
--json writes one JSON object per line instead (--features and -v: one
object). Notes about fallbacks go to stderr (-q hides them).

Examples:
  kpcap list 'syscalls:sys_enter_open*'
  kpcap list --json 'tcp_*' | jq -r .name
  kpcap list -v 'struct sk_buff'
  kpcap list /usr/lib/x86_64-linux-gnu/libstdc++.so.6 'libstdcxx:*'
`

// listOpts are the parsed options of kpcap list.
type listOpts struct {
	verbose, features, json, quiet bool
	tracepoints, functions         bool // restrict the kernel listing
	out                            *bufio.Writer
	flushEach                      bool // on a terminal, show each line at once
}

func runList(args []string) error {
	c := commands["list"]
	fs := newFlags(c)
	o := &listOpts{}
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "details: a tracepoint's fields, symbol addresses and file offsets")
	fs.BoolVar(&o.features, "features", false, "the probe forms this kernel supports")
	fs.BoolVarP(&o.tracepoints, "tracepoints", "t", false, "list tracepoints only")
	fs.BoolVarP(&o.functions, "functions", "f", false, "list kernel functions only")
	fs.BoolVar(&o.json, "json", false, "JSON output (one object per line for lists)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no notes on stderr")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	o.out = bufio.NewWriterSize(os.Stdout, 64<<10)
	o.flushEach = isTerminal(os.Stdout)
	defer o.out.Flush()
	switch {
	case o.features:
		if len(rest) > 0 {
			return usagef("--features takes no arguments")
		}
		return listFeatures(o)
	case len(rest) > 0 && strings.Contains(rest[0], "/"):
		if len(rest) > 2 {
			return usagef("too many arguments: want PATH [PATTERN]")
		}
		pat := ""
		if len(rest) == 2 {
			pat = rest[1]
		}
		return listBinary(o, rest[0], pat)
	case o.verbose:
		if len(rest) != 1 {
			return usagef("-v needs one NAME: a tracepoint SUBSYS:EVENT, a kernel function or 'struct NAME'")
		}
		return listVerbose(o, rest[0])
	case len(rest) > 1:
		return usagef("too many arguments: want one PATTERN (quote globs)")
	}
	pat := ""
	if len(rest) == 1 {
		pat = rest[0]
	}
	return listKernel(o, pat)
}

// line writes one text line, or v as one JSON line.
func (o *listOpts) line(text string, v any) error {
	if o.json {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		o.out.Write(b)
		o.out.WriteByte('\n')
	} else {
		o.out.WriteString(terminalSafe(text))
		o.out.WriteByte('\n')
	}
	if o.flushEach {
		return o.out.Flush()
	}
	return nil
}

// note prints a remark on stderr unless -q.
func (o *listOpts) note(format string, a ...any) {
	if !o.quiet {
		o.out.Flush()
		fmt.Fprintf(os.Stderr, "kpcap list: %s\n", terminalSafe(fmt.Sprintf(format, a...)))
	}
}

// writeJSON writes v as one indented JSON object.
func (o *listOpts) writeJSON(v any) error {
	enc := json.NewEncoder(o.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// listBinary lists the functions and USDT markers of the ELF file at path.
func listBinary(o *listOpts, path, pattern string) error {
	b, err := discover.ReadBinary(path, pattern)
	if err != nil && b == nil {
		return err
	}
	if err != nil {
		o.note("USDT markers: %v", err)
	}
	for _, f := range b.Functions {
		text := "function " + path + ":" + f.Name
		if o.verbose {
			text = fmt.Sprintf("function %s:%s\taddr %#x offset %#x size %d", path, f.Name, f.Addr, f.Offset, f.Size)
		}
		if err := o.line(text, struct {
			Type string `json:"type"`
			discover.Symbol
		}{"function", f}); err != nil {
			return err
		}
	}
	for _, m := range b.Markers {
		text := fmt.Sprintf("usdt %s:%s:%s\targs %q", path, m.Provider, m.Name, m.Args)
		if m.Semaphore != 0 {
			text += fmt.Sprintf(" semaphore %#x", m.Semaphore)
		}
		if o.verbose {
			text += fmt.Sprintf(" pc %#x offset %#x", m.PC, m.Offset)
			if m.Semaphore != 0 {
				text += fmt.Sprintf(" semaphore_offset %#x", m.SemaphoreOffset)
			}
		}
		if err := o.line(text, struct {
			Type string `json:"type"`
			discover.Marker
		}{"usdt", m}); err != nil {
			return err
		}
	}
	if len(b.Functions) == 0 && len(b.Markers) == 0 {
		if pattern != "" {
			return fmt.Errorf("%s: no function or USDT marker matches %q", path, pattern)
		}
		o.note("%s has no function symbols and no USDT markers (stripped?)", path)
	}
	return nil
}
