package tenants

import "testing"

func TestCredentialEndpoint(t *testing.T) {
	git := []struct{ url, want string }{
		{"https://git.example.com/org/r.git", "https://git.example.com:443"},
		{"https://GIT.example.com:443/other.git", "https://git.example.com:443"},
		{"https://git.example.com:8443/r.git", "https://git.example.com:8443"},
		{"http://git.example.com/r.git", "http://git.example.com:80"},
		{"ssh://git@git.example.com/r.git", "ssh://git.example.com:22"},
		{"git@git.example.com:org/r.git", "ssh://git.example.com:22"},
		{"ssh://git@[2001:db8::1]:2222/r.git", "ssh://[2001:db8::1]:2222"},
	}
	for _, c := range git {
		if got := (GitStateStore{URL: c.url}).CredentialEndpoint(); got != c.want {
			t.Errorf("git %q: got %q, want %q", c.url, got, c.want)
		}
	}
	bucket := []struct {
		ep       string
		insecure bool
		want     string
	}{
		{"s3.amazonaws.com", false, "https://s3.amazonaws.com:443"},
		{"minio:9000", true, "http://minio:9000"},
		{"minio:9000", false, "https://minio:9000"},
	}
	for _, c := range bucket {
		if got := (BucketStateStore{Endpoint: c.ep, Insecure: c.insecure}).CredentialEndpoint(); got != c.want {
			t.Errorf("bucket %q: got %q, want %q", c.ep, got, c.want)
		}
	}
}

// TestCredentialEndpointOfEveryAcceptedURL: every URL form a Git store accepts
// has an endpoint, so that no message ends in a blank "at ".
func TestCredentialEndpointOfEveryAcceptedURL(t *testing.T) {
	for _, raw := range []string{"https://git.example.com/r.git", "http://git.example.com/r.git", "ssh://git@git.example.com/r.git",
		"git@git.example.com:org/r.git", "file:///srv/gitops.git", "FILE:///srv/gitops.git", "https://:443/r.git", "ssh://git@:22/r.git"} {
		err := validateGitURL(raw, true)
		got := (GitStateStore{URL: raw}).CredentialEndpoint()
		if err == nil && got == "" {
			t.Errorf("%q is accepted but has no endpoint", raw)
		}
	}
	if got := (GitStateStore{URL: "file:///srv/gitops.git"}).CredentialEndpoint(); got != "file://localhost" {
		t.Errorf("file URL: got %q, want file://localhost", got)
	}
}

func FuzzCredentialEndpoint(f *testing.F) {
	for _, s := range []string{"https://git.example.com/r.git", "git@h:o/r.git", "file:///a.git", "https://:1/x", "ssh://[::1]:22/r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if validateGitURL(raw, true) == nil && (GitStateStore{URL: raw}).CredentialEndpoint() == "" {
			t.Errorf("%q is accepted but has no endpoint", raw)
		}
		b := BucketStateStore{Endpoint: raw}
		if validateEndpoint(raw) == nil && b.CredentialEndpoint() == "" {
			t.Errorf("bucket endpoint %q is accepted but has no credential endpoint", raw)
		}
	})
}
