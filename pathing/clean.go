package pathing

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	maxSegmentLen = 255  // NAME_MAX of common filesystems a Git checkout lands on
	maxKeyLen     = 1024 // S3 object key limit
)

// Reasons used in PathError.
const (
	reasonEmpty     = "must not be empty"
	reasonEscapes   = "path escapes the destination directory"
	reasonAbsolute  = "must be a relative path"
	reasonDirectory = "names a directory, not a file"
	reasonSlash     = "must not contain \"/\""
	reasonGit       = "must not contain a .git segment"
	reasonGitMeta   = "must not name a .gitmodules or .gitattributes file: Git reads them as repository configuration, and hosted remotes refuse pushes that hold a malformed one"
	reasonBackslash = "must not contain a backslash"
	reasonControl   = "must not contain control or invisible characters"
	reasonUTF8      = "must be valid UTF-8"
	reasonLong      = "has a path segment longer than 255 bytes"
	reasonKratixDir = "the .kratix directory is reserved for state files"
)

// CleanFile validates one file path relative to a pipeline's output root and returns
// it in clean form ("./a//b.yaml" becomes "a/b.yaml"). It rejects, with a *PathError
// for FieldFile, every path that could leave the directory it is joined to or touch
// Git's own files: see the package comment.
func CleanFile(p string) (string, error) {
	if p == "" {
		return "", newError(FieldFile, p, reasonEmpty)
	}
	if strings.HasPrefix(p, "/") {
		return "", newError(FieldFile, p, reasonAbsolute)
	}
	if strings.HasSuffix(p, "/") {
		return "", newError(FieldFile, p, reasonDirectory)
	}
	clean, err := cleanPath(FieldFile, p)
	if err != nil {
		return "", err
	}
	if clean == "" {
		return "", newError(FieldFile, p, reasonEmpty)
	}
	return clean, nil
}

// Root returns S/D, the directory a Destination owns inside its store: the store path
// joined with the destination path, cleaned, without leading or trailing "/". "", "."
// and "/" mean the store root and give "". A path holding "..", ".git", a backslash or
// a control character is rejected with a *PathError for FieldStorePath or FieldDestPath.
func Root(storePath, destPath string) (string, error) {
	s, err := cleanPath(FieldStorePath, storePath)
	if err != nil {
		return "", err
	}
	d, err := cleanPath(FieldDestPath, destPath)
	if err != nil {
		return "", err
	}
	return joinKey(s, d), nil
}

// Overlap reports whether two destination paths on one store overlap: the same
// directory, or one inside the other ("a" and "a/b" overlap, "a" and "ab" do not; the
// store root overlaps everything). Kratix only rejects the exact same string; two
// overlapping Destinations would delete each other's files. Paths are compared after
// cleaning, case-sensitively (as Git and S3 do); get them from DestinationDir, which
// validates them and accounts for the legacy layout's destination-name segment.
func Overlap(a, b string) bool {
	a, b = normalizeDir(a), normalizeDir(b)
	if a == "" || b == "" || a == b {
		return true
	}
	return strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}

// DestinationDir returns the directory, relative to the store path, under which every
// key of d's layout lies, canary files included: the destination path, with the
// destination name appended in legacy mode. Compare two Destinations of one store with
// Overlap(DestinationDir(a), DestinationDir(b)): two legacy Destinations at "." do not
// overlap, a legacy "worker-1" at "." and a nested one at "worker-1" do.
func DestinationDir(d Destination) (string, error) {
	dir, err := cleanPath(FieldDestPath, d.Path)
	if err != nil {
		return "", err
	}
	mode, err := resolveMode(d.Mode)
	if err != nil || mode != ModeLegacy {
		return dir, err
	}
	if err := checkName(FieldDestName, d.Name); err != nil {
		return "", err
	}
	return joinKey(dir, d.Name), nil
}

func normalizeDir(p string) string {
	p = path.Clean("/" + strings.Trim(p, "/"))
	return strings.TrimPrefix(p, "/")
}

// cleanPath validates a relative slash-separated path and returns it without empty
// and "." segments ("" when nothing is left). A leading "/" is an empty segment here:
// callers decide whether they accept absolute input.
func cleanPath(field, p string) (string, error) {
	if reason := badChars(p); reason != "" {
		return "", newError(field, p, reason)
	}
	segs := strings.Split(p, "/")
	kept := segs[:0]
	for _, s := range segs {
		if s == "" || s == "." {
			continue
		}
		if reason := badSegment(s); reason != "" {
			return "", newError(field, p, reason)
		}
		kept = append(kept, s)
	}
	return strings.Join(kept, "/"), nil
}

// checkName validates a name that becomes exactly one path segment (promise,
// namespace, resource, pipeline, destination, placement).
func checkName(field, name string) error {
	if name == "" {
		return newError(field, name, reasonEmpty)
	}
	if reason := badChars(name); reason != "" {
		return newError(field, name, reason)
	}
	if strings.Contains(name, "/") {
		return newError(field, name, reasonSlash)
	}
	if name == "." {
		return newError(field, name, "must not be \".\"")
	}
	if reason := badSegment(name); reason != "" {
		return newError(field, name, reason)
	}
	return nil
}

// badChars returns why p holds a character no key may hold, or "".
func badChars(p string) string {
	if !utf8.ValidString(p) {
		return reasonUTF8
	}
	if strings.Contains(p, `\`) {
		return reasonBackslash
	}
	for _, r := range p {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return reasonControl
		}
	}
	return ""
}

// badSegment returns why one non-empty, non-"." segment is unsafe, or "".
func badSegment(s string) string {
	switch {
	case s == "..":
		return reasonEscapes
	case isGitName(s):
		return reasonGit
	case isGitMetaName(s):
		return reasonGitMeta
	case len(s) > maxSegmentLen:
		return reasonLong
	}
	return ""
}

// isGitName reports whether a segment would be read as ".git" by Git on some
// filesystem: any case, trailing dots or spaces (Windows), the NTFS short name.
func isGitName(s string) bool {
	trimmed := strings.TrimRight(s, ". ")
	return strings.EqualFold(trimmed, ".git") || strings.EqualFold(s, "git~1")
}

// isGitMetaName reports whether a segment would be read by Git as .gitmodules or
// .gitattributes on some filesystem: any case, trailing dots or spaces, or an
// NTFS short name (gitmod~1, gitatt~1).
func isGitMetaName(s string) bool {
	trimmed := strings.ToLower(strings.TrimRight(s, ". "))
	if trimmed == ".gitmodules" || trimmed == ".gitattributes" {
		return true
	}
	l := strings.ToLower(s)
	return len(l) == 8 && (strings.HasPrefix(l, "gitmod~") || strings.HasPrefix(l, "gitatt~")) && l[7] >= '1' && l[7] <= '9'
}

// ParentDirs returns the parent directories of a key, nearest last ("a", "a/b"
// for "a/b/c"): what must be a directory for the key to be a file.
func ParentDirs(key string) []string {
	var out []string
	for i := range len(key) {
		if key[i] == '/' {
			out = append(out, key[:i])
		}
	}
	return out
}

// joinKey joins non-empty parts with "/".
func joinKey(parts ...string) string {
	kept := make([]string, 0, len(parts))
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "/")
}

// checkKey is the last line of defence: every key Layout or Canary returns passes it.
func checkKey(root, key, input string) error {
	switch {
	case key == "" || strings.HasPrefix(key, "/") || path.Clean(key) != key:
		return newError(FieldFile, input, reasonEscapes)
	case root != "" && !strings.HasPrefix(key, root+"/"):
		return newError(FieldFile, input, reasonEscapes)
	case len(key) > maxKeyLen:
		return newError(FieldFile, input, "gives a key longer than 1024 bytes")
	}
	for _, s := range strings.Split(key, "/") {
		if reason := badSegment(s); reason != "" {
			return newError(FieldFile, input, reason)
		}
	}
	return nil
}
