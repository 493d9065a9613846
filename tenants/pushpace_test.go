package tenants

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEffectivePushInterval(t *testing.T) {
	tests := []struct {
		name, url, auth, spec string
		want                  time.Duration
	}{
		{"plain https", "https://git.example.com/o/r.git", AuthBasic, "", time.Second},
		{"github https", "https://github.com/o/r.git", AuthBasic, "", 10 * time.Second},
		{"github upper case", "https://GitHub.com/o/r.git", AuthNone, "", 10 * time.Second},
		{"github with port", "https://github.com:443/o/r.git", AuthBasic, "", 10 * time.Second},
		{"github scp-like", "git@github.com:o/r.git", AuthSSH, "", 10 * time.Second},
		{"github ssh://", "ssh://git@github.com/o/r.git", AuthSSH, "", 10 * time.Second},
		{"github ssh over 443", "ssh://git@ssh.github.com:443/o/r.git", AuthSSH, "", 10 * time.Second},
		{"look-alike host", "https://github.com.example.org/o/r.git", AuthBasic, "", time.Second},
		{"github enterprise", "https://ghe.example.com/o/r.git", AuthBasic, "", time.Second},
		{"githubApp elsewhere", "https://ghe.example.com/o/r.git", AuthGitHubApp, "", 10 * time.Second},
		{"gitlab ssh", "git@gitlab.com:o/r.git", AuthSSH, "", time.Second},
		{"spec wins on github", "https://github.com/o/r.git", AuthBasic, "2s", 2 * time.Second},
		{"spec zero on github", "https://github.com/o/r.git", AuthGitHubApp, "0s", 0},
		{"spec elsewhere", "https://git.example.com/o/r.git", AuthBasic, "1m30s", 90 * time.Second},
		{"unparsable URL", "::", AuthBasic, "", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := GitStateStore{URL: tt.url, AuthMethod: tt.auth, PushInterval: tt.spec}
			if got := s.EffectivePushInterval(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestValidatePushInterval(t *testing.T) {
	tests := []struct {
		spec, wantErr string
	}{
		{"", ""}, {"0", ""}, {"0s", ""}, {"10s", ""}, {"10m", ""}, {" 5s\n", ""},
		{"10m1s", "at most 10m0s"}, {"-1s", "negative"}, {"10", "not a duration"}, {"soon", "not a duration"},
	}
	for _, tt := range tests {
		s := GitStateStore{Name: "repo", URL: "https://git.example.com/o/r.git", AuthMethod: AuthNone, PushInterval: tt.spec}
		s.Normalize()
		err := s.Validate()
		var ve ValidationErrors
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%q: unexpected error %v", tt.spec, err)
		case tt.wantErr != "" && (err == nil || !errors.As(err, &ve) || ve.For("spec.pushInterval") == "" ||
			!strings.Contains(ve.For("spec.pushInterval"), tt.wantErr)):
			t.Errorf("%q: error %v, want one on spec.pushInterval saying %q", tt.spec, err, tt.wantErr)
		}
	}
}

func TestExportRoundTripsPushInterval(t *testing.T) {
	set := GitStateStore{Name: "paced", URL: "https://github.com/o/r.git", AuthMethod: AuthNone, PushInterval: "1m30s"}
	plain := GitStateStore{Name: "plain", URL: "https://github.com/o/r2.git", AuthMethod: AuthNone}
	out, err := ExportKratixYAML([]GitStateStore{set, plain}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), "pushInterval"); n != 1 {
		t.Errorf("export names pushInterval %d times, want once (only the store that sets it):\n%s", n, out)
	}
	docs := mustParse(t, string(out))
	if got := docs[0].Git.PushInterval; got != "1m30s" {
		t.Errorf("pushInterval parsed back as %q, want 1m30s", got)
	}
	if got := docs[1].Git.PushInterval; got != "" {
		t.Errorf("a store without pushInterval parsed back with %q", got)
	}
}

func FuzzParsePushInterval(f *testing.F) {
	for _, s := range []string{"", "0", "10s", "10m", "10m1s", "-1s", "1h", "1.5s", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		d, err := ParsePushInterval(raw)
		if err == nil && (d < 0 || d > MaxPushInterval) {
			t.Errorf("%q accepted as %s", raw, d)
		}
		var ve *ValidationError
		if err != nil && (!errors.As(err, &ve) || ve.Field != "spec.pushInterval") {
			t.Errorf("%q: error %v does not name spec.pushInterval", raw, err)
		}
	})
}
