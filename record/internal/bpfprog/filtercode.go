package bpfprog

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// commSlot is where a filter's COMM comparison puts the task's name on the
// program's stack (fp-32 to fp-16): the programs keep fp-16 to fp-1 for
// their own scratch, a filtered probe its record below fp-32.
const commSlot = -32

// filterCode generates a filter's instructions for one program. The
// event's fields are read at base+bias+offset; R1 to R5 and R0 are
// scratch, the other registers are kept.
type filterCode struct {
	base   asm.Register
	bias   int
	typ    uint16 // common_type
	labels int
	insns  asm.Instructions
}

// code returns instructions that jump to reject when f rejects the event
// and go on to the next instruction when it passes it. The fields are
// read at base+bias+offset.
func (f *Filter) code(base asm.Register, bias int, reject string) asm.Instructions {
	c := &filterCode{base: base, bias: bias, typ: f.typ}
	c.jumpIf(f.root, false, reject)
	return c.insns
}

func (c *filterCode) label() string {
	c.labels++
	return fmt.Sprintf("filter%d", c.labels)
}

func (c *filterCode) emit(insns ...asm.Instruction) { c.insns = append(c.insns, insns...) }

// land places label l on the next instruction: a no-op that sets R0,
// which nothing reads before a helper call sets it again.
func (c *filterCode) land(l string) { c.emit(asm.Mov.Imm(asm.R0, 0).WithSymbol(l)) }

// jumpIf jumps to l when n evaluates to want and falls through otherwise.
func (c *filterCode) jumpIf(n *filterNode, want bool, l string) {
	switch n.op {
	case '!':
		c.jumpIf(n.l, !want, l)
	case '&', '|':
		// a && b is false as soon as a is; a || b true as soon as a is.
		short := n.op == '|'
		if want == short {
			c.jumpIf(n.l, want, l)
			c.jumpIf(n.r, want, l)
			return
		}
		skip := c.label()
		c.jumpIf(n.l, short, skip)
		c.jumpIf(n.r, want, l)
		c.land(skip)
	default:
		if n.pred.field.Dyn {
			c.jumpDynString(n.pred, want != n.pred.not, l)
		} else if n.pred.field.Chars {
			c.jumpString(n.pred, want != n.pred.not, l)
		} else {
			c.jumpNumber(n.pred, want, l)
		}
	}
}

// jumpOps are the jumps taken when a comparison holds, unsigned and
// signed, and when it does not.
var jumpOps = map[string][3]asm.JumpOp{
	"==": {asm.JEq, asm.JEq, asm.JNE},
	"!=": {asm.JNE, asm.JNE, asm.JEq},
	"<":  {asm.JLT, asm.JSLT, asm.JGE},
	"<=": {asm.JLE, asm.JSLE, asm.JGT},
	">":  {asm.JGT, asm.JSGT, asm.JLE},
	">=": {asm.JGE, asm.JSGE, asm.JLT},
}

// negSigned are the signed jumps taken when a comparison does not hold.
var negSigned = map[string]asm.JumpOp{"<": asm.JSGE, "<=": asm.JSGT, ">": asm.JSLE, ">=": asm.JSLT}

// jumpNumber compares a number, each side extended from the field's type
// to 64 bits as its sign says.
func (c *filterCode) jumpNumber(p *filterPred, want bool, l string) {
	size := p.field.Size
	switch p.from {
	case fromField:
		c.load(c.bias+p.field.Off, size)
	case fromPID, fromCPU:
		fn := asm.FnGetCurrentPidTgid // the low half is the thread's id
		if p.from == fromCPU {
			fn = asm.FnGetSmpProcessorId
		}
		c.emit(fn.Call(), asm.Mov.Reg(asm.R1, asm.R0))
		size = 4
	case fromType:
		c.emit(asm.Mov.Imm(asm.R1, int32(c.typ)))
	}
	if sh := int32(64 - 8*size); sh > 0 && p.field.Signed {
		// Loads zero-extend: a signed field takes its sign.
		c.emit(asm.LSh.Imm(asm.R1, sh), asm.ArSh.Imm(asm.R1, sh))
	}
	c.emit(asm.LoadImm(asm.R2, int64(p.val), asm.DWord))
	if p.op == "&" {
		if want {
			c.emit(asm.JSet.Reg(asm.R1, asm.R2, l))
		} else {
			c.emit(asm.And.Reg(asm.R1, asm.R2), asm.JEq.Imm(asm.R1, 0, l))
		}
		return
	}
	ops := jumpOps[p.op]
	op := ops[2]
	switch {
	case want && p.field.Signed:
		op = ops[1]
	case want:
		op = ops[0]
	case p.field.Signed && negSigned[p.op] != 0:
		op = negSigned[p.op]
	}
	c.emit(op.Reg(asm.R1, asm.R2, l))
}

// load loads the size-byte field at base+off into R1, zero-extended. The
// verifier takes only aligned stack accesses (a filtered probe's record is
// on the stack, its fields packed as the format says): a field off its
// size's alignment is read a byte at a time.
func (c *filterCode) load(off, size int) {
	if off%size == 0 {
		c.emit(asm.LoadMem(asm.R1, c.base, int16(off), loadSize(size)))
		return
	}
	c.emit(asm.Mov.Imm(asm.R1, 0))
	for k := range size {
		shift := 8 * k
		if !nativeLittle {
			shift = 8 * (size - 1 - k)
		}
		c.emit(asm.LoadMem(asm.R2, c.base, int16(off+k), asm.Byte))
		if shift > 0 {
			c.emit(asm.LSh.Imm(asm.R2, int32(shift)))
		}
		c.emit(asm.Or.Reg(asm.R1, asm.R2))
	}
}

func loadSize(n int) asm.Size {
	switch n {
	case 1:
		return asm.Byte
	case 2:
		return asm.Half
	case 4:
		return asm.Word
	}
	return asm.DWord
}

// jumpString jumps to l when the string predicate matches (match) or
// does not (!match), before any inversion: whole strings as strncmp over
// the array, "pre*" as strncmp over the prefix, "*mid*" as strnstr over
// the whole array (it does not stop at a NUL), "*end" as the kernel's
// regex_match_end, which compares the bytes before the array's last one
// (the length it is given is the array's, not the string's).
func (c *filterCode) jumpString(p *filterPred, match bool, l string) {
	n, pat := p.field.Size, p.str
	var starts, width, first int
	switch p.match {
	case matchFull:
		starts, width, pat = 1, min(n, len(pat)+1), pat+"\x00"
	case matchFront:
		starts, width = 1, len(pat)
		if n < width {
			starts = 0
		}
	case matchMiddle:
		starts, width = max(n-len(pat)+1, 0), len(pat)
	case matchEnd:
		starts, width, first = 1, len(pat), n-1-len(pat)
		if first < 0 {
			starts, first = 0, 0
		}
	}
	base, off := c.base, c.bias+p.field.Off
	if p.from == fromComm {
		// bpf_get_current_comm pads the name with NULs, as current->comm
		// is, which the kernel's filter compares.
		base, off = asm.RFP, commSlot
		c.emit(
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, commSlot),
			asm.Mov.Imm(asm.R2, taskCommLen),
			asm.FnGetCurrentComm.Call())
	}
	found := l
	if !match {
		found = c.label()
	}
	for s := range starts {
		next := c.label()
		for i := range width {
			c.emit(
				asm.LoadMem(asm.R1, base, int16(off+first+s+i), asm.Byte),
				asm.JNE.Imm(asm.R1, int32(pat[i]), next))
		}
		c.emit(asm.Ja.Label(found))
		c.land(next)
	}
	if !match {
		c.emit(asm.Ja.Label(l))
		c.land(found)
	}
}
