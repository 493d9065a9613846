package tenants

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LocalRepos is the local default's policy for file:// Git stores: a bare
// repository on this machine may be named (as file:///absolute/path only, see
// ParseGitURL), but never one inside the server's own files, where the Git clone
// caches of every tenant, the database and the sealing key live. A nil
// *LocalRepos refuses every file:// store (a shared deployment).
//
// The check resolves symbolic links, so it is made when a store is validated and
// again by the writer right before it opens the repository (a path can become a
// symbolic link later); the writer opens the resolved path it checked.
type LocalRepos struct {
	// Protected are the server's own directories and files (data dir, database
	// file, key files): no store may name one of them or a path inside one.
	Protected []string
	// CaseInsensitive compares paths without regard to case, as a
	// case-insensitive file system (macOS, Windows by default) opens them.
	CaseInsensitive bool
}

// ErrProtectedPath refuses a file:// store inside the server's own files.
var ErrProtectedPath = errors.New("names the server's own files (data dir, database or key file): a file:// store must name a repository outside them")

// Check validates raw as a file:// store URL and returns the resolved path to open.
// Errors are ValidationErrors of spec.url.
func (l *LocalRepos) Check(raw string) (string, error) {
	if l == nil {
		return "", Invalid("spec.url", "%s", ErrFileURL.Error())
	}
	u, err := ParseGitURL(raw)
	if err != nil {
		return "", err
	}
	if u.Form != FormFile {
		return "", Invalid("spec.url", "%q is not a file:// URL", raw)
	}
	real, err := resolvePath(u.Endpoint.Path)
	if err != nil {
		return "", Invalid("spec.url", "%q: %v", raw, err)
	}
	for _, p := range l.Protected {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		resolved, err := resolvePath(abs)
		if err != nil {
			return "", err
		}
		if l.within(real, abs) || l.within(real, resolved) {
			return "", Invalid("spec.url", "%q %s", raw, ErrProtectedPath.Error())
		}
	}
	return real, nil
}

// within reports whether p is root or inside it (both absolute and clean).
func (l *LocalRepos) within(p, root string) bool {
	if l.CaseInsensitive {
		p, root = strings.ToLower(p), strings.ToLower(root)
	}
	if p == root || root == string(filepath.Separator) {
		return true
	}
	return strings.HasPrefix(p, strings.TrimSuffix(root, string(filepath.Separator))+string(filepath.Separator))
}

// resolvePath returns the absolute clean path p names with every symbolic link
// resolved; for a path that does not exist (yet), its longest existing ancestor is
// resolved and the rest appended (p is clean, so the rest holds no "..").
func resolvePath(p string) (string, error) {
	p = filepath.Clean(p)
	rest := ""
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(real, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if _, lerr := os.Lstat(p); lerr == nil {
			return "", errors.New("a symbolic link on the path points nowhere")
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}
