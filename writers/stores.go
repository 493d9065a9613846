package writers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/forge"
	"github.com/stateward/stateward/tenants"
)

// Factory builds Backends for the stores in the database, all dialling through
// one egress policy and caching Git clones under one directory.
type Factory struct {
	Egress   egress.Policy
	CacheDir string // Git clones: <CacheDir>/<tenant id>/<store id>
	// LocalRepos admits file:// Git stores (a bare repository on this machine,
	// outside the server's own files); only the local default sets it, since it
	// reaches the server's own disk. Nil refuses them.
	LocalRepos *tenants.LocalRepos
	// AppTokens shares GitHub App installation tokens between the backends
	// (writers and readiness checks); nil gives each backend its own cache.
	AppTokens *AppTokens
	// Yield, when set, is shared by every bucket backend and by the Runner's
	// workers (see Yielding).
	Yield *Yielding
	// Forges makes the pull-request API client of a provider (forge.New).
	Forges func(forge.Config) (forge.Forge, error)
}

// GitBackend returns the backend for a Git store (credentials opened).
func (f Factory) GitBackend(s tenants.GitStateStore) (*Git, error) {
	if s.SecretMissing {
		return nil, errors.New(tenants.SecretMissingMessage(s.SecretRef))
	}
	if err := f.checkHost(s.URL); err != nil {
		return nil, err
	}
	if s.AuthMethod == tenants.AuthGitHubApp {
		if err := f.checkHost(s.GitHubAPI()); err != nil {
			return nil, err
		}
	}
	return NewGit(f.gitConfig(s))
}

// gitConfig is the GitConfig of a Git store.
func (f Factory) gitConfig(s tenants.GitStateStore) GitConfig {
	c := s.Credentials
	return GitConfig{
		URL: s.URL, Branch: s.Branch, HeadBranch: s.HeadBranch(), AuthMethod: s.AuthMethod,
		Username: s.Credentials.Username, Password: s.Credentials.Password,
		SSHPrivateKey: s.Credentials.SSHPrivateKey, KnownHosts: s.Credentials.KnownHosts,
		AppID: c.AppID, InstallationID: c.InstallationID, AppPrivateKey: c.PrivateKey,
		GitHubAPIURL: s.GitHubAPIURL, AppTokens: f.AppTokens,
		SigningKey: c.SigningKey, SigningKeyPassphrase: c.SigningKeyPassphrase,
		AuthorName: s.AuthorName, AuthorEmail: s.AuthorEmail, CABundle: []byte(s.CABundle),
		CacheDir:   filepath.Join(f.CacheDir, strconv.FormatInt(s.TenantID, 10), "git-"+strconv.FormatInt(s.ID, 10)),
		Dial:       f.Egress.DialContext,
		LocalRepos: f.LocalRepos,
	}
}

// Forge returns the pull-request API of a pull-request store: the store's token
// (its password, or a GitHub App installation token), through the egress guard
// with the store's CA bundle.
func (f Factory) Forge(s tenants.GitStateStore) (forge.Forge, error) {
	if s.PullRequest == nil {
		return nil, fmt.Errorf("store %s has no spec.pullRequest", s.Name)
	}
	if s.SecretMissing {
		return nil, errors.New(tenants.SecretMissingMessage(s.SecretRef))
	}
	if f.Forges == nil {
		return nil, errors.New("pull requests are not configured in this process")
	}
	if s.PullRequest.APIURL != "" {
		u, err := url.Parse(s.PullRequest.APIURL)
		if err != nil {
			return nil, fmt.Errorf("spec.pullRequest.apiURL: %w", err)
		}
		if err := f.Egress.CheckLiteral(u.Hostname()); err != nil {
			return nil, faulty(err)
		}
	} else if err := f.checkHost(s.URL); err != nil {
		return nil, err
	}
	cfg := f.gitConfig(s)
	hc, err := httpClient(cfg)
	if err != nil {
		return nil, err
	}
	token := func(context.Context) (string, error) { return strings.TrimSpace(cfg.Password), nil }
	if s.AuthMethod == tenants.AuthGitHubApp {
		if s.PullRequest.APIURL != "" && cfg.GitHubAPIURL == "" {
			cfg.GitHubAPIURL = s.PullRequest.APIURL
		}
		app, err := newGitHubApp(cfg, hc)
		if err != nil {
			return nil, err
		}
		token = app.token
	}
	return f.Forges(forge.Config{Provider: s.PullRequest.Provider, RepoURL: s.URL, APIURL: s.PullRequest.APIURL,
		Token: token, HTTPClient: hc})
}

// BucketBackend returns the backend for a bucket store (credentials opened).
func (f Factory) BucketBackend(s tenants.BucketStateStore) (*Bucket, error) {
	if s.SecretMissing {
		return nil, errors.New(tenants.SecretMissingMessage(s.SecretRef))
	}
	if err := f.Egress.CheckLiteral(s.Endpoint); err != nil {
		return nil, faulty(err)
	}
	return NewBucket(BucketConfig{
		Endpoint: s.Endpoint, BucketName: s.BucketName, Path: s.Path, Region: s.Region, Insecure: s.Insecure,
		AuthMethod: s.AuthMethod, AccessKeyID: s.Credentials.AccessKeyID, SecretAccessKey: s.Credentials.SecretAccessKey,
		Transport: f.Egress.Transport(nil), Yield: f.Yield,
	})
}

// checkHost refuses, before any dial, a Git or API URL that names a literal
// disallowed address, or this machine's disk outside the local default's policy.
func (f Factory) checkHost(rawURL string) error {
	u, err := tenants.ParseGitURL(rawURL)
	if err != nil {
		return err
	}
	if u.Form == tenants.FormFile {
		_, err := f.LocalRepos.Check(rawURL)
		return faulty(err)
	}
	return faulty(f.Egress.CheckLiteral(u.Host))
}
