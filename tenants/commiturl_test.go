package tenants

import "testing"

func TestCommitURL(t *testing.T) {
	sha := "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name, url, provider, want string
	}{
		{"github https", "https://github.com/acme/fleet.git", "", "https://github.com/acme/fleet/commit/" + sha},
		{"github scp", "git@github.com:acme/fleet.git", "", "https://github.com/acme/fleet/commit/" + sha},
		{"github enterprise", "https://ghe.example.com/acme/fleet", ProviderGitHub, "https://ghe.example.com/acme/fleet/commit/" + sha},
		{"gitlab subgroup", "https://gitlab.example.com/g/sub/fleet.git", ProviderGitLab, "https://gitlab.example.com/g/sub/fleet/-/commit/" + sha},
		{"gitea", "https://code.example.com/acme/fleet.git", ProviderGitea, "https://code.example.com/acme/fleet/commit/" + sha},
		{"unknown host", "https://git.example.com/acme/fleet.git", "", ""},
		{"local", "file:///srv/fleet.git", "", ""},
		{"bucket version", "https://github.com/acme/fleet.git", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sha
			if tt.name == "bucket version" {
				s = "v3"
			}
			if got := CommitURL(tt.url, tt.provider, s); got != tt.want {
				t.Errorf("CommitURL(%q, %q) = %q, want %q", tt.url, tt.provider, got, tt.want)
			}
		})
	}
}
