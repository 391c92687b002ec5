//go:build linux

package record

import "github.com/kpcap/kpcap/record/internal/bpfprog"

// bpfPayload splits the payload of a ring record of BPF source i (what
// follows its header) into the raw sample bytes and the call stack part
// (nil without call chains). A fixed-length record is the payload's words,
// then the stacks; a variable-length one the stacks, then the payload to
// the record's end (see bpfprog.VarStackOffset).
func (b *bpfCapture) bpfPayload(i int, payload []byte) (raw, stack []byte) {
	if !b.varlen[i] {
		return payload[:min(len(payload), b.fixed[i])], b.bpfStackPart(i, payload)
	}
	n := bpfprog.VarStackOffset(b.stack()) - bpfprog.HeaderLen
	if n > len(payload) {
		return nil, nil
	}
	if b.callchain {
		stack = payload[:n]
	}
	return payload[n:], stack
}
