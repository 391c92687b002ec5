package probedef

import (
	"errors"
	"strings"
	"testing"
)

// kernelBadDefs are the bad definitions of the kernel's own ftrace selftests
// (tools/testing/selftests/ftrace/test.d/kprobe/kprobe_syntax_errors.tc and
// test.d/dynevent/{fprobe,tprobe,eprobes}_syntax_errors.tc), with '^' where
// the kernel's error_log puts its caret. need says what a case needs beyond
// the parser: "btf" (the running kernel's BTF, for names).
var kernelBadDefs = []struct {
	def, need, err string // err: the kernel's error name
}{
	// kprobe_syntax_errors.tc
	{"p^100 vfs_read", "", "MAXACT_NO_KPROBE"},
	{"r^1a111 vfs_read", "", "BAD_MAXACT"},
	{"r^100000 vfs_read", "", "MAXACT_TOO_BIG"},
	{"p ^hoge-fuga", "", "BAD_PROBE_ADDR"},
	{"p ^hoge+1000-1000", "", "BAD_PROBE_ADDR"},
	{"r ^vfs_read+10", "", "BAD_RETPROBE"},
	{"p:^/bar vfs_read", "", "NO_GROUP_NAME"},
	{"p:^12345678901234567890123456789012345678901234567890123456789012345/bar vfs_read", "", "GROUP_TOO_LONG"},
	{"p:^foo.1/bar vfs_read", "", "BAD_GROUP_NAME"},
	{"p:foo/^ vfs_read", "", "NO_EVENT_NAME"},
	{"p:foo/^12345678901234567890123456789012345678901234567890123456789012345 vfs_read", "", "EVENT_TOO_LONG"},
	{"p:foo/^bar.1 vfs_read", "", "BAD_EVENT_NAME"},
	{"p vfs_read ^$retval", "", "RETVAL_ON_PROBE"},
	{"p vfs_read ^$stack10000", "", "BAD_STACK_NUM"},
	{"p vfs_read ^$arg10000", "", "BAD_ARG_NUM"},
	{"p vfs_read ^$none_var", "", "BAD_VAR"},
	{"p vfs_read ^%none_reg", "", "BAD_REG_NAME"},
	{"p vfs_read ^@12345678abcde", "", "BAD_MEM_ADDR"},
	{"p vfs_read ^@+10", "", "FILE_ON_KPROBE"},
	{"p vfs_read ^+0@0)", "", "DEREF_NEED_BRACE"},
	{"p vfs_read ^+0ab1(@0)", "", "BAD_DEREF_OFFS"},
	{"p vfs_read +0(+0(@0^)", "", "DEREF_OPEN_BRACE"},
	{"p vfs_read +0(^$comm)", "", "COMM_CANT_DEREF"},
	{"p vfs_read ^&1", "", "BAD_FETCH_ARG"},
	{"p vfs_read +0(^+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(@0))))))))))))))", "", "TOO_MANY_OPS"},
	{"p vfs_read +0(@11):u8[10^", "", "ARRAY_NO_CLOSE"},
	{"p vfs_read +0(@11):u8[10]^a", "", "BAD_ARRAY_SUFFIX"},
	{"p vfs_read +0(@11):u8[^10a]", "", "BAD_ARRAY_NUM"},
	{"p vfs_read +0(@11):u8[^256]", "", "ARRAY_TOO_BIG"},
	{"p vfs_read @11:^unknown_type", "", "BAD_TYPE"},
	{"p vfs_read $stack0:^string", "", "BAD_STRING"},
	{"p vfs_read @11:^b10@a/16", "", "BAD_BITFIELD"},
	{"p vfs_read ^arg123456789012345678901234567890=@11", "", "ARG_NAME_TOO_LONG"},
	{"p vfs_read ^=@11", "", "NO_ARG_NAME"},
	{"p vfs_read ^var.1=@11", "", "BAD_ARG_NAME"},
	{"p vfs_read var1=@11 ^var1=@12", "", "USED_ARG_NAME"},
	{"p vfs_read ^+1234567(+1234567(+1234567(+1234567(+1234567(+1234567(@1234))))))", "", "ARG_TOO_LONG"},
	{"p vfs_read arg1=^", "", "NO_ARG_BODY"},

	// fprobe_syntax_errors.tc
	{"f^100 vfs_read", "", "BAD_MAXACT"},
	{"f ^vfs_read+10", "", "BAD_PROBE_ADDR"},
	{"f:^/bar vfs_read", "", "NO_GROUP_NAME"},
	{"f:^12345678901234567890123456789012345678901234567890123456789012345/bar vfs_read", "", "GROUP_TOO_LONG"},
	{"f:^foo.1/bar vfs_read", "", "BAD_GROUP_NAME"},
	{"f:^ vfs_read", "", "NO_EVENT_NAME"},
	{"f:foo/^12345678901234567890123456789012345678901234567890123456789012345 vfs_read", "", "EVENT_TOO_LONG"},
	{"f:foo/^bar.1 vfs_read", "", "BAD_EVENT_NAME"},
	{"f vfs_read ^$stack10000", "", "BAD_STACK_NUM"},
	{"f vfs_read ^$arg10000", "", "BAD_ARG_NUM"},
	{"f vfs_read ^$none_var", "", "BAD_VAR"},
	{"f vfs_read ^%ax", "", "BAD_VAR"},
	{"f vfs_read ^@12345678abcde", "", "BAD_MEM_ADDR"},
	{"f vfs_read ^@+10", "", "FILE_ON_KPROBE"},
	{`f vfs_read arg1=\^x`, "", "BAD_IMM"},
	{`f vfs_read arg1=\"abcd^`, "", "IMMSTR_NO_CLOSE"},
	{"f vfs_read ^+0@0)", "", "DEREF_NEED_BRACE"},
	{"f vfs_read ^+0ab1(@0)", "", "BAD_DEREF_OFFS"},
	{"f vfs_read +0(+0(@0^)", "", "DEREF_OPEN_BRACE"},
	{"f vfs_read +0(^$comm)", "", "COMM_CANT_DEREF"},
	{"f vfs_read ^&1", "", "BAD_FETCH_ARG"},
	{"f vfs_read +0(^+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(@0))))))))))))))", "", "TOO_MANY_OPS"},
	{"f vfs_read +0(@11):u8[10^", "", "ARRAY_NO_CLOSE"},
	{"f vfs_read +0(@11):u8[10]^a", "", "BAD_ARRAY_SUFFIX"},
	{"f vfs_read +0(@11):u8[^10a]", "", "BAD_ARRAY_NUM"},
	{"f vfs_read +0(@11):u8[^256]", "", "ARRAY_TOO_BIG"},
	{"f vfs_read @11:^unknown_type", "", "BAD_TYPE"},
	{"f vfs_read $stack0:^string", "", "BAD_STRING"},
	{"f vfs_read @11:^b10@a/16", "", "BAD_BITFIELD"},
	{"f vfs_read ^arg123456789012345678901234567890=@11", "", "ARG_NAME_TOO_LONG"},
	{"f vfs_read ^=@11", "", "NO_ARG_NAME"},
	{"f vfs_read ^var.1=@11", "", "BAD_ARG_NAME"},
	{"f vfs_read var1=@11 ^var1=@12", "", "USED_ARG_NAME"},
	{"f vfs_read ^+1234567(+1234567(+1234567(+1234567(+1234567(+1234567(@1234))))))", "", "ARG_TOO_LONG"},
	{"f vfs_read arg1=^", "", "NO_ARG_BODY"},
	{"f vfs_read^%hoge", "", "BAD_ADDR_SUFFIX"},
	{"f vfs_read args=^$arg*", "", "BAD_VAR_ARGS"},
	{"f vfs_read +0(^$arg*)", "", "BAD_VAR_ARGS"},
	{"f vfs_read $arg* ^$arg*", "", "DOUBLE_ARGS"},
	{"f vfs_read ^hoge", "btf", "NO_BTFARG"},
	{"f kfree ^$arg10", "btf", "NO_BTFARG"},
	{"f kfree%return ^$retval", "btf", "NO_RETVAL"},
	{"f vfs_read%return $retval->^foo", "btf", "NO_PTR_STRCT"},
	{"f vfs_read file->^foo", "btf", "NO_BTF_FIELD"},
	{"f vfs_read file^-.foo", "", "BAD_HYPHEN"},
	{"f vfs_read ^file:string", "btf", "BAD_TYPE4STR"},

	// tprobe_syntax_errors.tc
	{"t^100 kfree", "", "BAD_MAXACT_TYPE"},
	{"t:^/bar kfree", "", "NO_GROUP_NAME"},
	{"t:^12345678901234567890123456789012345678901234567890123456789012345/bar kfree", "", "GROUP_TOO_LONG"},
	{"t:^foo.1/bar kfree", "", "BAD_GROUP_NAME"},
	{"t:^ kfree", "", "NO_EVENT_NAME"},
	{"t:foo/^12345678901234567890123456789012345678901234567890123456789012345 kfree", "", "EVENT_TOO_LONG"},
	{"t:foo/^bar.1 kfree", "", "BAD_EVENT_NAME"},
	{"t kfree ^$retval", "", "RETVAL_ON_PROBE"},
	{"t kfree ^$stack10000", "", "BAD_STACK_NUM"},
	{"t kfree ^$arg10000", "", "BAD_ARG_NUM"},
	{"t kfree ^$none_var", "", "BAD_VAR"},
	{"t kfree ^%rax", "", "BAD_VAR"},
	{"t kfree ^@12345678abcde", "", "BAD_MEM_ADDR"},
	{"t kfree ^@+10", "", "FILE_ON_KPROBE"},
	{`t kfree arg1=\^x`, "", "BAD_IMM"},
	{`t kfree arg1=\"abcd^`, "", "IMMSTR_NO_CLOSE"},
	{"t kfree ^+0@0)", "", "DEREF_NEED_BRACE"},
	{"t kfree ^+0ab1(@0)", "", "BAD_DEREF_OFFS"},
	{"t kfree +0(+0(@0^)", "", "DEREF_OPEN_BRACE"},
	{"t kfree +0(^$comm)", "", "COMM_CANT_DEREF"},
	{"t kfree ^&1", "", "BAD_FETCH_ARG"},
	{"t kfree +0(@11):u8[10^", "", "ARRAY_NO_CLOSE"},
	{"t kfree +0(@11):u8[10]^a", "", "BAD_ARRAY_SUFFIX"},
	{"t kfree +0(@11):u8[^10a]", "", "BAD_ARRAY_NUM"},
	{"t kfree +0(@11):u8[^256]", "", "ARRAY_TOO_BIG"},
	{"t kfree @11:^unknown_type", "", "BAD_TYPE"},
	{"t kfree $stack0:^string", "", "BAD_STRING"},
	{"t kfree @11:^b10@a/16", "", "BAD_BITFIELD"},
	{"t kfree ^arg123456789012345678901234567890=@11", "", "ARG_NAME_TOO_LONG"},
	{"t kfree ^=@11", "", "NO_ARG_NAME"},
	{"t kfree ^var.1=@11", "", "BAD_ARG_NAME"},
	{"t kfree var1=@11 ^var1=@12", "", "USED_ARG_NAME"},
	{"t kfree arg1=^", "", "NO_ARG_BODY"},

	// eprobes_syntax_errors.tc
	{"e ^a.", "", "NO_EVENT_INFO"},
	{"e ^.b", "", "NO_EVENT_INFO"},
	{"e syscalls/sys_enter_openat ^foo", "", "BAD_ATTACH_ARG"},
	{"e:^/bar syscalls/sys_enter_openat", "", "NO_GROUP_NAME"},
	{"e:^12345678901234567890123456789012345678901234567890123456789012345/bar syscalls/sys_enter_openat", "", "GROUP_TOO_LONG"},
	{"e:^foo.1/bar syscalls/sys_enter_openat", "", "BAD_GROUP_NAME"},
	{"e:^ syscalls/sys_enter_openat", "", "NO_EVENT_NAME"},
	{"e:foo/^12345678901234567890123456789012345678901234567890123456789012345 syscalls/sys_enter_openat", "", "EVENT_TOO_LONG"},
	{"e:foo/^bar.1 syscalls/sys_enter_openat", "", "BAD_EVENT_NAME"},
	{"e:foo/bar syscalls/sys_enter_openat arg=^dfd", "", "BAD_FETCH_ARG"},
}

// TestKernelSelftestBadDefinitions: kpcap rejects every bad definition of the
// kernel's selftests before touching tracefs, with its caret where the
// kernel's error_log puts it.
func TestKernelSelftestBadDefinitions(t *testing.T) {
	var b *BTF
	agree := 0
	for _, tt := range kernelBadDefs {
		pos := strings.IndexByte(tt.def, '^')
		def := tt.def[:pos] + tt.def[pos+1:]
		if tt.need == "btf" && b == nil {
			b = hostBTF(t)
		}
		p, err := Parse(def)
		if err == nil && tt.need == "btf" {
			err = p.ResolveBTF(b)
		}
		var se *SyntaxError
		switch {
		case err == nil:
			t.Errorf("%s: %q accepted; the kernel rejects it", tt.err, def)
		case !errors.As(err, &se):
			t.Errorf("%s: %q: %v is not a SyntaxError", tt.err, def, err)
		case se.Pos != pos:
			t.Errorf("%s: caret at %d, the kernel's at %d:\n%s\n%s^", tt.err, se.Pos, pos, se, strings.Repeat(" ", pos))
		default:
			agree++
		}
	}
	t.Logf("%d of %d kernel selftest bad definitions rejected with the kernel's caret", agree, len(kernelBadDefs))
}
