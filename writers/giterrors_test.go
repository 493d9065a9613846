package writers

import (
	"errors"
	"strings"
	"testing"
)

func TestMaskToken(t *testing.T) {
	cases := []struct{ msg, secret, want string }{
		{"git push to http://git.example/r.git: connection refused", "http", "git push to http://git.example/r.git: connection refused"},
		{"git push to https://git.example/r.git: timed out", "t", "git push to https://git.example/r.git: timed out"},
		{"remote: bad token hunter22 rejected", "hunter22", "remote: bad token *** rejected"},
		{"remote: token 'hunter22'\nremote: again hunter22", "hunter22", "remote: token '***'\nremote: again ***"},
		{"remote: hunter222 is not it", "hunter22", "remote: hunter222 is not it"},
		{"nothing to hide", "", "nothing to hide"},
	}
	for _, c := range cases {
		if got := maskToken(c.msg, c.secret); got != c.want {
			t.Errorf("maskToken(%q, %q) = %q, want %q", c.msg, c.secret, got, c.want)
		}
	}
}

// TestWrapKeepsTextWithShortPassword: a short password that is part of ordinary
// words does not garble the message (and so does not reveal itself).
func TestWrapKeepsTextWithShortPassword(t *testing.T) {
	r := &gitRemote{url: "http://git.example/r.git", secret: "http"}
	got := r.wrap("push to", errors.New("dial tcp: connection refused")).Error()
	if want := "git push to http://git.example/r.git: "; !strings.HasPrefix(got, want) || strings.Contains(got, "***") {
		t.Errorf("wrap = %q, want it to start %q unmasked", got, want)
	}
}
