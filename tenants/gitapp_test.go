package tenants

import (
	"strings"
	"testing"
)

func TestExportRoundTripsGitHubApp(t *testing.T) {
	g := GitStateStore{Name: "gh", URL: "https://ghe.example.com/org/repo.git", AuthMethod: AuthGitHubApp, SecretRef: "app",
		GitHubAPIURL: "https://ghe.example.com/api/v3/",
		Credentials:  GitCredentials{AppID: "12", InstallationID: "34", PrivateKey: "SECRET-APP-KEY", SigningKey: "SECRET-SIGNING-KEY"}}
	out, err := ExportKratixYAML([]GitStateStore{g}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"authMethod: githubApp", "githubAPIURL: https://ghe.example.com/api/v3\n", "name: app"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "SECRET") {
		t.Errorf("export holds a credential:\n%s", out)
	}
	docs := mustParse(t, string(out))
	if got := docs[0].Git; got.AuthMethod != AuthGitHubApp || got.GitHubAPI() != "https://ghe.example.com/api/v3" {
		t.Errorf("parsed back as %+v", got)
	}
	if ep := docs[0].Git.CredentialEndpoint(); ep != "https://ghe.example.com:443 (GitHub API https://ghe.example.com:443)" {
		t.Errorf("credential endpoint %q names the repository and the API", ep)
	}
}

func TestGitHubAPIDefault(t *testing.T) {
	g := GitStateStore{URL: "https://github.com/o/r.git", AuthMethod: AuthGitHubApp}
	if g.GitHubAPI() != "https://api.github.com" {
		t.Errorf("default API %q", g.GitHubAPI())
	}
	if ep := g.CredentialEndpoint(); ep != "https://github.com:443 (GitHub API https://api.github.com:443)" {
		t.Errorf("credential endpoint %q", ep)
	}
}

func FuzzParseSigningKey(f *testing.F) {
	f.Add("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----\n")
	f.Add("-----BEGIN OPENSSH PRIVATE KEY-----\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseSigningKey(s)
		if err == nil && (e == nil || e.PrivateKey == nil) {
			t.Errorf("ParseSigningKey accepted a key without a private key")
		}
		if err == nil && SigningKeyFingerprint(s) == "" {
			t.Errorf("accepted key has no fingerprint")
		}
	})
}

func FuzzParseAppPrivateKey(f *testing.F) {
	f.Add("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if k, err := ParseAppPrivateKey(s); err == nil && k == nil {
			t.Error("nil key without an error")
		}
	})
}
