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
