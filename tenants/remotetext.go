package tenants

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxRemoteText bounds, in bytes, a remote's message kept as a State Store's
// status or a write's error (the Git remote's own text is read into a 4 KiB
// buffer; GitHub's error answers are cut at 512 characters).
const MaxRemoteText = 4096

// unreadable stands for a remote's message with nothing printable in it.
const unreadable = "(a message with no printable characters)"

// RemoteText makes text that came from a remote — a Git server, an S3 endpoint,
// the GitHub API — fit to keep and to show every viewer: valid UTF-8, no control
// characters (newlines and tabs become spaces, runs of spaces one; terminal
// escapes, NUL and the like go) and no invisible formatting characters (bidi
// overrides that reorder what the reader sees), at most MaxRemoteText bytes, cut
// at a character with "…". It is never empty for a non-empty s (an error stays
// an error). Every status and error a remote can word passes here before it is
// stored.
func RemoteText(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == ' ' || r == '\r':
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue
		}
		space = false
		if b.Len() > MaxRemoteText {
			break // enough to know it is cut
		}
		b.WriteRune(r)
	}
	out := strings.TrimRight(b.String(), " ")
	if out == "" {
		return unreadable
	}
	if len(out) <= MaxRemoteText {
		return out
	}
	cut := MaxRemoteText - len("…")
	for !utf8.RuneStart(out[cut]) {
		cut--
	}
	return strings.TrimRight(out[:cut], " ") + "…"
}
