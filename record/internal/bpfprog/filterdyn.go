package bpfprog

import "github.com/cilium/ebpf/asm"

// jumpDynString jumps to l when the string predicate on a __data_loc
// field matches (match) or does not (!match), as the kernel's
// filter_pred_strloc does: the location word gives the string's offset in
// the record and its length len with the NUL (0: none recorded), and
// "text" is strncmp over len bytes (strcmp for 0), "pre*" a compare of
// the prefix unless 0 < len < its length, "*end" one of the len-1 bytes'
// tail. The record is a scratch value: offsets past MaxVarPayload, which
// no record has, do not match.
func (c *filterCode) jumpDynString(p *filterPred, match bool, l string) {
	hit, miss := l, c.label()
	if !match {
		hit, miss = miss, l
	}
	pat := p.str
	c.load(c.bias+p.field.Off, 4)
	c.emit(
		asm.Mov.Reg(asm.R3, asm.R1),
		asm.RSh.Imm(asm.R3, 16),
		asm.And.Imm(asm.R1, 0xffff))
	switch p.match {
	case matchFull:
		pat += "\x00" // the string ends where the pattern does
	case matchFront:
		cmp := c.label()
		c.emit(asm.JEq.Imm(asm.R3, 0, cmp), asm.JLT.Imm(asm.R3, int32(len(pat)), miss))
		c.land(cmp)
	case matchEnd:
		c.emit(
			asm.JLT.Imm(asm.R3, int32(len(pat)+1), miss),
			asm.Add.Reg(asm.R1, asm.R3),
			asm.Sub.Imm(asm.R1, int32(len(pat)+1)))
	}
	c.emit(
		asm.JGT.Imm(asm.R1, MaxVarPayload, miss),
		asm.Mov.Reg(asm.R4, c.base),
		asm.Add.Imm(asm.R4, int32(c.bias)),
		asm.Add.Reg(asm.R4, asm.R1))
	for i := range len(pat) {
		c.emit(
			asm.LoadMem(asm.R1, asm.R4, int16(i), asm.Byte),
			asm.JNE.Imm(asm.R1, int32(pat[i]), miss))
	}
	c.emit(asm.Ja.Label(hit))
	if match {
		c.land(miss)
	} else {
		c.land(hit)
	}
}
