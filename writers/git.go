package writers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/stateward/stateward/tenants"
)

// maxPushAttempts bounds how often Apply rebuilds its commit on a branch that other
// writers keep moving.
const maxPushAttempts = 5

// GitConfig describes one Git State Store.
type GitConfig struct {
	// URL is an https, http or ssh URL (scp-like "git@host:path" works too).
	URL string
	// Branch is written to; "main" when empty.
	Branch string
	// HeadBranch, when set, makes this a pull-request store: every write goes
	// to HeadBranch, built on Branch, and Branch is never pushed to (see
	// applyHead).
	HeadBranch string
	// AuthMethod is "basicAuth", "ssh", "githubApp" or "none"; when empty,
	// basicAuth if a password is given, else none.
	AuthMethod string
	// Username and Password are the basicAuth credentials. The user defaults to
	// "x-access-token" for GitHub URLs and "stateward" elsewhere. Surrounding
	// whitespace (a pasted trailing newline) is ignored.
	Username, Password string
	// SSHPrivateKey (PEM) and KnownHosts (known_hosts text, always checked) are the
	// ssh credentials; the user comes from the URL, "git" by default.
	SSHPrivateKey, KnownHosts string
	// AppID, InstallationID and AppPrivateKey (PEM, RSA) authenticate a githubApp
	// store: an installation token, minted at GitHubAPIURL
	// (https://api.github.com when empty) through the same dialer and TLS
	// settings as the remote, is the password of x-access-token. AppTokens, when
	// set, shares the tokens between backends until shortly before they expire.
	AppID, InstallationID, AppPrivateKey string
	GitHubAPIURL                         string
	AppTokens                            *AppTokens
	// SigningKey (an armored OpenPGP private key), opened with
	// SigningKeyPassphrase when encrypted, signs every commit; each signed commit
	// is verified before it is pushed.
	SigningKey, SigningKeyPassphrase string
	// AuthorName ("stateward" when empty) and AuthorEmail
	// (tenants.DefaultGitAuthorEmail when empty) sign the commits.
	AuthorName, AuthorEmail string
	// CABundle (PEM) is trusted in addition to the system roots; InsecureSkipTLS
	// turns verification off. TLS is verified by default.
	CABundle        []byte
	InsecureSkipTLS bool
	// CacheDir holds this store's bare clone; every store needs its own.
	CacheDir string
	// Dial, when set, makes every connection to the remote (an SSRF guard). For
	// ssh it only vets the address before go-git dials it (see Git).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// LocalRepos admits a file:// URL outside the server's own files; nil refuses
	// every file:// URL.
	LocalRepos *tenants.LocalRepos
	// Now is the commit clock; time.Now when nil.
	Now func() time.Time
}

// Git is a Git State Store. It keeps a bare clone in CacheDir and builds each commit
// in memory from the branch tip (no worktree, no index), so a Batch of any size is
// one commit and one push, and a Batch the branch already holds is neither.
//
// Transport: go-git's high-level Remote API picks its HTTP client from package
// globals (client.InstallProtocol), which the house style forbids. Git therefore
// opens upload-pack and receive-pack sessions itself on a transport built for this
// store alone (githttp.NewClient with an http.Client whose DialContext is
// GitConfig.Dial and whose TLS config holds the CA bundle). go-git's SSH transport
// takes no dialer, so for ssh URLs Dial resolves and vets the address, and go-git
// connects to that IP address (host keys still checked against the URL's name).
//
// One Git serialises its Apply and Read calls; Check needs no local state and runs
// alongside them.
type Git struct {
	cfg    GitConfig
	remote *gitRemote
	branch plumbing.ReferenceName
	head   plumbing.ReferenceName // "" unless a pull-request store
	signer *commitSigner          // nil: commits are not signed

	mu      sync.Mutex
	cache   *gitCache  // opened on first use
	objects cloneCache // what the clone caches its objects in
}

// NewGit validates cfg and returns the store. It does no I/O on the network.
func NewGit(cfg GitConfig) (*Git, error) {
	if cfg.URL == "" {
		return nil, errors.New("git: url is required")
	}
	if cfg.CacheDir == "" {
		return nil, errors.New("git: cache directory is required")
	}
	if cfg.Branch == "" {
		cfg.Branch = "main"
	}
	branch := plumbing.NewBranchReferenceName(cfg.Branch)
	if err := branch.Validate(); err != nil || strings.ContainsAny(cfg.Branch, " \t\n") {
		return nil, fmt.Errorf("git: invalid branch name %q", cfg.Branch)
	}
	if cfg.AuthorName == "" {
		cfg.AuthorName = "stateward"
	}
	if cfg.AuthorEmail == "" {
		cfg.AuthorEmail = tenants.DefaultGitAuthorEmail
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	remote, err := newGitRemote(cfg)
	if err != nil {
		return nil, err
	}
	g := &Git{cfg: cfg, remote: remote, branch: branch}
	if cfg.HeadBranch != "" {
		g.head = plumbing.NewBranchReferenceName(cfg.HeadBranch)
		if err := g.head.Validate(); err != nil || cfg.HeadBranch == cfg.Branch || strings.ContainsAny(cfg.HeadBranch, " \t\n") {
			return nil, fmt.Errorf("git: invalid head branch %q", cfg.HeadBranch)
		}
	}
	if cfg.SigningKey != "" {
		if g.signer, err = newCommitSigner(cfg.SigningKey, cfg.SigningKeyPassphrase); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Apply makes the branch hold b in one commit and one push. When the branch already
// holds it, Apply returns Changed false with the tip as Version and pushes nothing.
// When someone else pushes in between, Apply fetches their commit and applies b on
// top of it again (never forcing), up to maxPushAttempts times.
func (g *Git) Apply(ctx context.Context, b Batch) (Result, error) {
	edits, err := newEditTree(ctx, b)
	if err != nil {
		return Result{}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	c, err := g.openCache()
	if err != nil {
		return Result{}, err
	}
	var stale error
	for attempt := range maxPushAttempts {
		if err := backoff(ctx, attempt); err != nil {
			return Result{}, err
		}
		var res Result
		if g.head != "" {
			res, err = g.applyHead(ctx, c, b)
		} else {
			res, err = g.applyOnce(ctx, c, edits, b)
		}
		if !errors.Is(err, errStale) {
			return res, err
		}
		stale = err
	}
	return Result{}, g.remote.wrap("push to", fmt.Errorf("gave up after %d attempts: %w", maxPushAttempts, stale))
}

// applyOnce reads the branch's tip, builds the commit on it and pushes it. The
// tip comes from the push's own advertisement, read first as "git push" does: a
// write whose cache already holds that tip (this writer pushed it last) costs one
// advertisement and one push, where a separate fetch would cost a third request to
// the remote on every commit. A tip the cache lacks (someone else pushed, or the
// cache is new) is fetched first, then pushed over the same session; a remote that
// moved meanwhile refuses the push as stale.
func (g *Git) applyOnce(ctx context.Context, c *gitCache, edits *editNode, b Batch) (res Result, err error) {
	s, ar, err := g.startPush(ctx, c)
	if err != nil {
		return Result{}, err
	}
	defer g.endPush(s, &res, &err)
	tip, err := tipOf(ar, g.branch)
	if err != nil {
		return Result{}, g.remote.wrap("push to", err)
	}
	if err := g.missing(tip); err != nil {
		return Result{}, err
	}
	if tip.exists && !hasObject(c.st, tip.hash) {
		fetched, err := g.fetchTip(ctx, c)
		if err != nil {
			return Result{}, err
		}
		if fetched.hash != tip.hash {
			return Result{}, errStale
		}
	} else if err := c.setTip(g.branch, tip.hash); err != nil {
		return Result{}, err
	}
	cm, err := c.commit(ctx, tip.hash, edits, func() (signature, string, error) {
		if b.Describe == nil {
			return g.signature(b.Author), b.Message, nil
		}
		msg, author, err := b.Describe(ctx)
		return g.signature(author), msg, err
	}, b.Fence)
	if err != nil || !cm.res.Changed {
		return cm.res, err
	}
	pack, err := cm.pack()
	if err != nil {
		return Result{}, err
	}
	if err := b.guard(ctx); err != nil {
		return Result{}, err
	}
	if err := g.remote.send(ctx, s, ar, g.branch, tip.hash, cm.hash, pack.data); err != nil {
		if errors.Is(err, errStale) {
			return Result{}, err
		}
		return Result{}, g.remote.wrap("push to", err)
	}
	return cm.res, c.keep(g.branch, cm.hash, pack)
}

// startPush compacts the cache and opens a receive-pack session, reading the
// remote's refs (what "git push" reads first).
func (g *Git) startPush(ctx context.Context, c *gitCache) (transport.ReceivePackSession, *packp.AdvRefs, error) {
	if err := c.compact(); err != nil {
		return nil, nil, fmt.Errorf("git cache %s: %w", g.cfg.CacheDir, err)
	}
	s, ar, err := g.remote.advertise(ctx)
	if err != nil {
		return nil, nil, g.remote.wrap("push to", err)
	}
	return s, ar, nil
}

// endPush closes a push's session; a close that fails turns the write's
// success into that error (the push may not have been taken).
func (g *Git) endPush(s transport.ReceivePackSession, res *Result, err *error) {
	if cerr := s.Close(); cerr != nil && *err == nil {
		*res, *err = Result{}, g.remote.wrap("push to", cerr)
	}
}

// fetchTip fetches the branch into the cache.
func (g *Git) fetchTip(ctx context.Context, c *gitCache) (remoteTip, error) {
	tip, err := g.remote.fetch(ctx, c.st, g.branch)
	if err != nil {
		return tip, g.remote.wrap("fetch from", err)
	}
	if err := g.missing(tip); err != nil {
		return tip, err
	}
	return tip, c.setTip(g.branch, tip.hash)
}

// missing refuses a tip the remote does not have. A repository without any
// branch is fine (the first write creates it); a missing branch in a repository
// that has others is an error, so a typo in the branch name never starts a new
// history.
func (g *Git) missing(tip remoteTip) error {
	if tip.exists || tip.empty {
		return nil
	}
	return faulty(fmt.Errorf("branch %q not found in %s", g.cfg.Branch, g.remote.url))
}

// Check confirms, with the credentials a push needs, that the remote answers and the
// branch exists: it reads the receive-pack advertisement (what "git push" reads
// before sending anything) and sends nothing, so it leaves no trace. A repository
// with no branch at all counts as ready, because the first Apply creates the branch;
// a repository whose other branches exist but not this one is not ready.
func (g *Git) Check(ctx context.Context) error {
	if g.signer != nil {
		if err := g.signer.probe(); err != nil {
			return err
		}
	}
	s, ar, err := g.remote.advertise(ctx)
	if err != nil {
		return g.remote.wrap("ls-remote", err)
	}
	if err := s.Close(); err != nil {
		return g.remote.wrap("ls-remote", err)
	}
	tip, err := tipOf(ar, g.branch)
	if err != nil {
		return g.remote.wrap("ls-remote", err)
	}
	return g.missing(tip)
}

// Read returns the files under prefix (a directory ending in "/", or "" for all) at
// the tip of the branch, keyed by their full key. An empty repository has no files.
func (g *Git) Read(ctx context.Context, prefix string) (map[string][]byte, error) {
	if prefix != "" {
		if err := checkKey(strings.TrimSuffix(prefix, "/")); err != nil || !strings.HasSuffix(prefix, "/") {
			return nil, fmt.Errorf("%w: read prefix %q", ErrUnsafeKey, prefix)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	c, err := g.openCache()
	if err != nil {
		return nil, err
	}
	tip, err := g.fetchTip(ctx, c)
	if err != nil {
		return nil, err
	}
	return c.files(tip.hash, prefix)
}

// ReadKeys returns the content of each of keys at the tip of the branch; a key
// that is not a file there is left out.
func (g *Git) ReadKeys(ctx context.Context, keys []string) (map[string][]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, err := g.openCache()
	if err != nil {
		return nil, err
	}
	tip, err := g.fetchTip(ctx, c)
	if err != nil || tip.hash.IsZero() {
		return map[string][]byte{}, err
	}
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if checkKey(k) != nil {
			continue
		}
		content, ok, err := c.fileAt(tip.hash, k)
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", k, err)
		}
		if ok {
			out[k] = content
		}
	}
	return out, nil
}

// isOpen reports whether the clone is open (its packs' indexes in memory).
// It takes the lock: a write holding it keeps its clone open anyway.
func (g *Git) isOpen() bool {
	if !g.mu.TryLock() {
		return true
	}
	defer g.mu.Unlock()
	return g.cache != nil
}

// Close releases the clone's open files. A Git is not used after Close.
func (g *Git) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closeClone()
}

// closeClone closes the clone if it is open (its files, its packs' indexes);
// it is opened again at the next use. The caller holds g.mu.
func (g *Git) closeClone() error {
	if g.cache == nil {
		return nil
	}
	err := g.cache.st.Close()
	g.cache = nil
	return err
}

// sweep readies the clone for a full rewrite of the store (a re-assert) and
// returns what ends it: meanwhile its objects are cached for this write alone
// (cloneCache), and a clone the write opens is closed again when it ends, its
// packs' indexes with it. A re-assert goes through every store once; what it
// read is not what the next writes read, and kept, it was the 100 – 150 MB
// heap that slowed the accept path after it. A clone already open (a store
// being written) stays open.
func (g *Git) sweep() (end func()) {
	g.mu.Lock()
	wasOpen := g.cache != nil
	g.objects.own.Store(newChargedLRU(sweepObjects))
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.objects.own.Store(nil)
		if !wasOpen {
			_ = g.closeClone()
		}
	}
}

// signature is the committer of a new commit, and its author unless author
// (Batch.Author) names someone else.
func (g *Git) signature(author *Person) signature {
	return signature{name: g.cfg.AuthorName, email: g.cfg.AuthorEmail, author: author, when: g.cfg.Now(), signer: g.signer}
}

// openCache opens (creating if needed) the bare clone on first use.
func (g *Git) openCache() (*gitCache, error) {
	if g.cache != nil {
		return g.cache, nil
	}
	c, err := openGitCache(g.cfg.CacheDir, g.branch, cacheOrigin(g.cfg.URL, g.cfg.Branch), &g.objects)
	if err != nil {
		return nil, fmt.Errorf("git cache %s: %w", g.cfg.CacheDir, err)
	}
	g.cache = c
	return c, nil
}

// backoff waits before retry attempt n (none before the first), with jitter so that
// two writers racing for one branch fall out of step.
func backoff(ctx context.Context, n int) error {
	if n == 0 {
		return nil
	}
	d := time.Duration(50<<n)*time.Millisecond + rand.N(50*time.Millisecond)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
