package symname

import "testing"

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"do_sys_openat2", "do_sys_openat2"},
		{"tcp_sendmsg.isra.0", "tcp_sendmsg"},
		{"copy_page_range.constprop.0", "copy_page_range"},
		{"__schedule.cold", "__schedule"},
		{"ext4_fill_super.cold.12", "ext4_fill_super"},
		{"do_something.part.0", "do_something"},
		{"foo.llvm.1234567890123", "foo"},
		{"bar.constprop.0.isra.0", "bar"},
		{"baz.isra.0.cold", "baz"},
		{"qux.part.3.constprop.1.cold", "qux"},
		{"x.lto_priv.0", "x"},
		{"version.2", "version.2"},     // digits alone are not a suffix
		{"my.isra", "my"},              // suffix without number
		{"isra.0", "isra.0"},           // nothing before it
		{".cold", ".cold"},             // name is only a suffix
		{"a.b.cold", "a.b"},            // dots inside the name stay
		{"foo.coldish", "foo.coldish"}, // not a whole suffix word
		{"[unknown]", "[unknown]"},     //
		{"", ""},                       //
		{"foo.isra.0x", "foo.isra.0x"}, // not digits
		{"/usr/bin/x:main", "/usr/bin/x:main"},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"a.isra.0", "b.cold.1.part.2", ".cold", "x.llvm.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if len(n) > len(s) || Normalize(n) != n {
			t.Fatalf("Normalize(%q) = %q not idempotent/shrinking", s, n)
		}
	})
}
