package writers

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/tenants"
)

// Factory builds Backends for the stores in the database, all dialling through
// one egress policy and caching Git clones under one directory.
type Factory struct {
	Egress   egress.Policy
	CacheDir string // Git clones: <CacheDir>/<tenant id>/<store id>
	// AllowFileURLs admits file:// Git stores (a bare repository on this machine);
	// only the local default sets it, since it reaches the server's own disk.
	AllowFileURLs bool
	// AppTokens shares GitHub App installation tokens between the backends
	// (writers and readiness checks); nil gives each backend its own cache.
	AppTokens *AppTokens
	// Yield, when set, is shared by every bucket backend and by the Runner's
	// workers (see Yielding).
	Yield *Yielding
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
	c := s.Credentials
	return NewGit(GitConfig{
		URL: s.URL, Branch: s.Branch, Path: s.Path, AuthMethod: s.AuthMethod,
		Username: s.Credentials.Username, Password: s.Credentials.Password,
		SSHPrivateKey: s.Credentials.SSHPrivateKey, KnownHosts: s.Credentials.KnownHosts,
		AppID: c.AppID, InstallationID: c.InstallationID, AppPrivateKey: c.PrivateKey,
		GitHubAPIURL: s.GitHubAPIURL, AppTokens: f.AppTokens,
		SigningKey: c.SigningKey, SigningKeyPassphrase: c.SigningKeyPassphrase,
		AuthorName: s.AuthorName, AuthorEmail: s.AuthorEmail, CABundle: []byte(s.CABundle),
		CacheDir: filepath.Join(f.CacheDir, strconv.FormatInt(s.TenantID, 10), "git-"+strconv.FormatInt(s.ID, 10)),
		Dial:     f.Egress.DialContext,
	})
}

// BucketBackend returns the backend for a bucket store (credentials opened).
func (f Factory) BucketBackend(s tenants.BucketStateStore) (*Bucket, error) {
	if s.SecretMissing {
		return nil, errors.New(tenants.SecretMissingMessage(s.SecretRef))
	}
	if err := f.Egress.CheckLiteral(s.Endpoint); err != nil {
		return nil, err
	}
	return NewBucket(BucketConfig{
		Endpoint: s.Endpoint, BucketName: s.BucketName, Path: s.Path, Region: s.Region, Insecure: s.Insecure,
		AuthMethod: s.AuthMethod, AccessKeyID: s.Credentials.AccessKeyID, SecretAccessKey: s.Credentials.SecretAccessKey,
		Transport: f.Egress.Transport(nil), Yield: f.Yield,
	})
}

// checkHost refuses a literal disallowed address in a Git or API URL before any dial.
func (f Factory) checkHost(rawURL string) error {
	if tenants.IsFileURL(rawURL) {
		if !f.AllowFileURLs {
			return tenants.ErrFileURL
		}
		return nil
	}
	host := tenants.GitHost(rawURL)
	if host == "" {
		return fmt.Errorf("no host in %q", rawURL)
	}
	return f.Egress.CheckLiteral(host)
}
