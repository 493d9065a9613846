package tenants

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestRemoteText(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"plain":              {"Integration not found", "Integration not found"},
		"terminal escapes":   {"\x1b[2J\x1b[31mBad credentials\x1b[0m", "[2J[31mBad credentials[0m"},
		"NUL and bell":       {"a\x00b\x07c", "abc"},
		"lines become one":   {"remote: error: denied\r\nremote: by hook\n", "remote: error: denied remote: by hook"},
		"tabs and spaces":    {"a\t\t b", "a b"},
		"invalid UTF-8":      {"bad \xff\xfe byte", "bad \uFFFD byte"},
		"bidi override":      {"user\u202Egnp.exe", "usergnp.exe"},
		"zero width":         {"a\u200Bb\uFEFFc", "abc"},
		"C1 control":         {"a\u009Bb", "ab"},
		"keeps other script": {"Ошибка: 権限がありません", "Ошибка: 権限がありません"},
		"empty stays empty":  {"", ""},
		"an error stays one": {"\x1b\x00 \n", unreadable},
	} {
		if got := RemoteText(tc.in); got != tc.want {
			t.Errorf("%s: RemoteText(%q) = %q, want %q", name, tc.in, got, tc.want)
		}
	}
	long := RemoteText(strings.Repeat("é", MaxRemoteText))
	if len(long) > MaxRemoteText || !strings.HasSuffix(long, "…") || !utf8.ValidString(long) {
		t.Errorf("a long text: %d bytes, ends %q, valid %v; want at most %d, cut with …", len(long), long[len(long)-8:],
			utf8.ValidString(long), MaxRemoteText)
	}
	if got := RemoteText(strings.Repeat("x", MaxRemoteText)); got != strings.Repeat("x", MaxRemoteText) {
		t.Errorf("a text of exactly the limit was cut to %d bytes", len(got))
	}
}

func FuzzRemoteText(f *testing.F) {
	for _, s := range []string{"", "ok", "\x1b[31m", "a\r\nb", "\xff", "\u202E", strings.Repeat("é ", 3000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := RemoteText(s)
		if len(got) > MaxRemoteText || !utf8.ValidString(got) {
			t.Fatalf("RemoteText(%q) = %q: %d bytes, valid UTF-8 %v", s, got, len(got), utf8.ValidString(got))
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("RemoteText(%q) kept %U", s, r)
			}
		}
		if s != "" && got == "" {
			t.Fatalf("RemoteText(%q) is empty", s)
		}
		if RemoteText(got) != got {
			t.Fatalf("RemoteText is not idempotent on %q", s)
		}
	})
}
