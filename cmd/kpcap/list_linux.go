//go:build linux

package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kpcap/kpcap/record/discover"
)

// listFeatures prints which probe forms the running kernel supports.
func listFeatures(o *listOpts) error {
	fs, err := discover.OpenTracing()
	if err != nil {
		return err
	}
	k, err := discover.ReadKernel(fs)
	if err != nil {
		return err
	}
	withFlags(k.Features)
	if o.json {
		return o.writeJSON(k)
	}
	btf := k.BTF
	if btf == "" {
		btf = "none"
	}
	fmt.Fprintf(o.out, "kernel %s (%s), tracefs %s, BTF %s\n", k.Release, k.Machine, k.Tracefs, btf)
	w := 0
	for _, f := range k.Features {
		w = max(w, len(f.Name))
	}
	for _, f := range k.Features {
		yes := "no "
		if f.Supported {
			yes = "yes"
		}
		fmt.Fprintf(o.out, "%-*s  %s  %-44s %s\n", w, f.Name, yes, f.Syntax, f.Detail)
	}
	return nil
}

// withFlags writes each feature's syntax as kpcap record takes it: a whole
// event definition after -e, a whole probe definition quoted after -p.
func withFlags(fs []discover.Feature) {
	for i := range fs {
		switch fs[i].Form {
		case discover.FormEvent:
			fs[i].Syntax = "-e " + fs[i].Syntax
		case discover.FormProbe:
			fs[i].Syntax = "-p '" + fs[i].Syntax + "'"
		}
	}
}

// listKernel lists tracepoints and probeable functions matching pattern.
func listKernel(o *listOpts, pattern string) error {
	fs, err := discover.OpenTracing()
	if err != nil {
		return err
	}
	both := !o.tracepoints && !o.functions
	wantTP := o.tracepoints || both
	// A SUBSYS:EVENT pattern names tracepoints only.
	wantFn := (o.functions || both) && !strings.Contains(pattern, ":")
	if o.functions && strings.Contains(pattern, ":") {
		return usagef("--functions with a SUBSYS:EVENT pattern %q: function names have no ':'", pattern)
	}
	found := 0
	if wantTP {
		tps, err := discover.Tracepoints(fs, pattern)
		switch {
		case errors.Is(err, discover.ErrNoEvent) && wantFn:
			// The pattern may name functions only.
		case err != nil:
			return err
		}
		for _, tp := range tps {
			found++
			if err := o.line("tracepoint "+tp.Name, struct {
				Type string `json:"type"`
				discover.Tracepoint
			}{"tracepoint", tp}); err != nil {
				return err
			}
		}
	}
	if wantFn {
		if !fs.HasKprobes() && !o.quiet {
			k, err := discover.ReadKernel(fs)
			why := "this kernel has no kprobes"
			if err == nil {
				why = k.Feature("kprobe").Detail
			}
			o.note("kernel functions are listed, but kprobes are unavailable: %s", why)
		}
		_, err := discover.Functions(fs, pattern, func(n string) { o.note("%s", n) }, func(f discover.Function) error {
			found++
			text := "function " + f.Name
			if f.Module != "" {
				text += " [" + f.Module + "]"
			}
			return o.line(text, struct {
				Type string `json:"type"`
				discover.Function
			}{"function", f})
		})
		if err != nil {
			return err
		}
	}
	if found == 0 && pattern != "" {
		return fmt.Errorf("nothing matches %q (tracepoints are SUBSYS:EVENT, e.g. 'sched:*'; functions are names, e.g. 'vfs_*')", pattern)
	}
	return nil
}

// listVerbose describes one name: a tracepoint's fields, a function's BTF
// prototype or a struct's members.
func listVerbose(o *listOpts, name string) error {
	fs, err := discover.OpenTracing()
	if err != nil {
		return err
	}
	if strings.Contains(name, ":") {
		fields, err := discover.TracepointFormat(fs, name)
		if err != nil {
			return err
		}
		if o.json {
			return o.writeJSON(struct {
				Type   string   `json:"type"`
				Name   string   `json:"name"`
				Fields []string `json:"fields"`
			}{"tracepoint", name, fields})
		}
		fmt.Fprintf(o.out, "tracepoint %s\n", name)
		for _, f := range fields {
			fmt.Fprintf(o.out, "\t%s\n", f)
		}
		return nil
	}
	return listBTF(o, name)
}
