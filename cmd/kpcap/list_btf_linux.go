//go:build linux

package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kpcap/kpcap/record/probedef"
)

// btfParam is one parameter in list -v --json output.
type btfParam struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Fetch string `json:"fetch"` // the fetch type a probe argument of this type gets
}

// btfMember is one struct member in list -v --json output.
type btfMember struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Offset    uint32 `json:"offset"` // bytes
	Size      int    `json:"size"`   // bytes, 0 if unknown
	BitOffset uint32 `json:"bit_offset"`
	BitSize   uint32 `json:"bit_size,omitempty"` // bitfield width
}

// listBTF prints a function's prototype, or a struct's or union's members
// with offsets, from the running kernel's BTF. A bare name that is no
// function is tried as a type.
func listBTF(o *listOpts, name string) error {
	b, err := probedef.LoadKernelBTF()
	if err != nil {
		if errors.Is(err, probedef.ErrNoBTF) {
			return fmt.Errorf("kpcap list -v %s needs the kernel's BTF, and this kernel has none (%w): build it with CONFIG_DEBUG_INFO_BTF", name, err)
		}
		return fmt.Errorf("load the kernel's BTF: %w", err)
	}
	isType := strings.HasPrefix(name, "struct ") || strings.HasPrefix(name, "union ")
	if !isType {
		proto, ferr := b.Func("", name)
		if ferr == nil {
			return printProto(o, proto)
		}
		var nf *probedef.NotFoundError
		if !errors.As(ferr, &nf) {
			return ferr
		}
		// Not a function: perhaps a type named without "struct".
		members, terr := b.Members(name)
		if terr != nil {
			return fmt.Errorf("%w (nor a struct or union of that name; write 'struct NAME' for types)", ferr)
		}
		return printMembers(o, name, members)
	}
	members, err := b.Members(name)
	if err != nil {
		return err
	}
	return printMembers(o, name, members)
}

func printProto(o *listOpts, p *probedef.FuncProto) error {
	if o.json {
		v := struct {
			Type      string     `json:"type"`
			Name      string     `json:"name"`
			Module    string     `json:"module,omitempty"`
			Prototype string     `json:"prototype"`
			Return    string     `json:"return"`
			Params    []btfParam `json:"params"`
		}{Type: "function", Name: p.Name, Module: p.Module, Prototype: p.String(), Return: "void", Params: []btfParam{}}
		if p.Return != nil {
			v.Return = p.Return.C
		}
		for _, pa := range p.Params {
			v.Params = append(v.Params, btfParam{pa.Name, pa.Type.C, pa.Type.Fetch})
		}
		return o.writeJSON(v)
	}
	fmt.Fprintln(o.out, p.String())
	for i, pa := range p.Params {
		n := pa.Name
		if n == "" {
			n = "(unnamed)"
		}
		fmt.Fprintf(o.out, "\t$arg%d\t%-20s %s (fetched as %s)\n", i+1, n, pa.Type.C, pa.Type.Fetch)
	}
	return nil
}

func printMembers(o *listOpts, name string, ms []probedef.Member) error {
	if o.json {
		out := make([]btfMember, 0, len(ms))
		for _, m := range ms {
			out = append(out, btfMember{Name: m.Name, Type: m.Type.C, Offset: m.Offset(), Size: m.Type.Size, BitOffset: m.BitOffset, BitSize: m.BitSize})
		}
		return o.writeJSON(struct {
			Type    string      `json:"type"`
			Name    string      `json:"name"`
			Members []btfMember `json:"members"`
		}{"type", name, out})
	}
	fmt.Fprintf(o.out, "%s {\n", name)
	for _, m := range ms {
		decl := m.Type.C
		if !strings.HasSuffix(decl, "*") {
			decl += " "
		}
		decl += m.Name
		if m.BitSize > 0 {
			decl += fmt.Sprintf(":%d", m.BitSize)
			fmt.Fprintf(o.out, "\t%-48s /* offset %5d bit %d */\n", decl+";", m.Offset(), m.BitOffset%8)
			continue
		}
		fmt.Fprintf(o.out, "\t%-48s /* offset %5d size %4d */\n", decl+";", m.Offset(), m.Type.Size)
	}
	fmt.Fprintln(o.out, "}")
	return nil
}
