package writers

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/stateward/stateward/pressure"
)

// bucketPlan is a validated Batch, ready to compare with a listing.
type bucketPlan struct {
	content  map[string][]byte            // put key → content; the last Put of a key wins
	md5s     map[string]string            // put key → hex MD5 of its content
	keys     []string                     // put keys, sorted
	deletes  map[string]bool              // exact keys to remove
	prefixes []string                     // DeletePrefixes
	keep     []string                     // Keep
	meta     map[string]map[string]string // put key → its user metadata (File.Meta)
}

// newBucketPlan validates every key and prefix of b; an unsafe one fails the whole
// batch with an error that names it and matches ErrUnsafeKey.
func newBucketPlan(ctx context.Context, b Batch) (*bucketPlan, error) {
	p := &bucketPlan{content: map[string][]byte{}, md5s: map[string]string{}, deletes: map[string]bool{}, meta: map[string]map[string]string{}}
	for _, f := range b.Puts {
		pressure.Pace(ctx) // a full rewrite's, while submits pour in
		if err := checkBucketKey(f.Key); err != nil {
			return nil, err
		}
		sum := md5.Sum(f.Content)
		p.content[f.Key], p.md5s[f.Key] = f.Content, hex.EncodeToString(sum[:])
		if f.Meta != nil {
			p.meta[f.Key] = f.Meta
		}
	}
	for _, key := range b.Deletes {
		if err := checkBucketKey(key); err != nil {
			return nil, err
		}
		p.deletes[key] = true
	}
	for _, prefix := range b.DeletePrefixes {
		if err := checkBucketPrefix(prefix); err != nil {
			return nil, err
		}
		p.prefixes = append(p.prefixes, prefix)
	}
	p.keep = b.Keep
	for key := range p.content {
		p.keys = append(p.keys, key)
	}
	slices.Sort(p.keys)
	return p, nil
}

// checkBucketKey refuses a key that is empty, absolute, or holds a backslash, a NUL,
// an empty, "." or ".." segment, or invalid UTF-8. The error names the key.
func checkBucketKey(key string) error {
	if why := bucketKeyProblem(key); why != "" {
		return fmt.Errorf("%w %q: %s", ErrUnsafeKey, key, why)
	}
	return nil
}

// bucketKeyProblem says what makes key unsafe, or returns "".
func bucketKeyProblem(key string) string {
	switch {
	case key == "":
		return "empty key"
	case strings.HasPrefix(key, "/"):
		return "absolute key"
	case strings.Contains(key, `\`):
		return "backslash in key"
	case strings.ContainsRune(key, 0):
		return "NUL in key"
	case !utf8.ValidString(key):
		return "key is not UTF-8"
	}
	return checkBucketSegments(key)
}

// checkBucketSegments names the first bad segment of key, or returns "".
func checkBucketSegments(key string) string {
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return "empty path segment"
		case ".", "..":
			return fmt.Sprintf("%q segment", seg)
		}
	}
	return ""
}

// checkBucketPrefix checks a DeletePrefix: a safe key followed by "/".
func checkBucketPrefix(prefix string) error {
	if !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("%w: delete prefix %q must end in \"/\"", ErrUnsafeKey, prefix)
	}
	if why := bucketKeyProblem(strings.TrimSuffix(prefix, "/")); why != "" {
		return fmt.Errorf("%w: delete prefix %q: %s", ErrUnsafeKey, prefix, why)
	}
	return nil
}

// bucketMaxListings is how many prefixes Apply lists separately at most. Beyond
// it, one listing of their common directory is cheaper: a listing page holds
// 1,000 keys, while each small listing costs a full round trip (measured on MinIO:
// 1,000 per-placement listings take about 5× as long as one listing of the
// 1,000 objects' common directory).
const bucketMaxListings = 64

// listPrefixes returns the prefixes whose listing covers every key the plan may
// compare or remove: the DeletePrefixes and the directories of Puts and Deletes (a
// top-level key is its own prefix), without any prefix another one already covers.
// More than max of them are replaced by their common directory.
func (p *bucketPlan) listPrefixes(max int) []string {
	all := slices.Clone(p.prefixes)
	for key := range p.content {
		all = append(all, bucketDir(key))
	}
	for key := range p.deletes {
		all = append(all, bucketDir(key))
	}
	slices.Sort(all)
	// Sorted, a prefix comes right before everything it covers.
	var out []string
	for _, prefix := range all {
		if len(out) > 0 && strings.HasPrefix(prefix, out[len(out)-1]) {
			continue
		}
		out = append(out, prefix)
	}
	if len(out) > max {
		return []string{commonBucketDir(out[0], out[len(out)-1])}
	}
	return out
}

// commonBucketDir returns the longest directory ("…/", or "" for the bucket root)
// that holds both a and b; given the first and last of sorted prefixes, it holds
// them all.
func commonBucketDir(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:strings.LastIndexByte(a[:n], '/')+1]
}

// bucketDir returns the directory of key with its trailing "/", or key itself
// for a top-level key (listing "" would list the whole bucket).
func bucketDir(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i+1]
	}
	return key
}

// changed returns the Puts whose listed ETag is not the MD5 of their content. A
// missing object or a multipart ETag ("…-N") counts as changed.
func (p *bucketPlan) changed(listed map[string]string) []File {
	var out []File
	for _, key := range p.keys {
		if listed[key] != p.md5s[key] {
			out = append(out, File{Key: key, Content: p.content[key], Meta: p.meta[key]})
		}
	}
	return out
}

// stale returns, sorted, the listed keys to remove: those under a DeletePrefix and
// the exact Deletes that exist, except keys the plan puts.
func (p *bucketPlan) stale(listed map[string]string) []string {
	var out []string
	for key := range listed {
		if _, put := p.content[key]; put {
			continue
		}
		if (p.deletes[key] || p.underDeletePrefix(key)) && !kept(p.keep, key) {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// unlisted returns, sorted, the exact Deletes the listing did not show (and that
// are neither put nor kept). They are removed all the same: a listing can miss a
// key (MinIO does not list "a/b" while an object "a" exists), and removing a
// missing key is harmless, while leaving a stale one is not.
func (p *bucketPlan) unlisted(listed map[string]string) []string {
	var out []string
	for key := range p.deletes {
		if _, ok := listed[key]; ok {
			continue
		}
		if _, put := p.content[key]; !put && !kept(p.keep, key) {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// underDeletePrefix reports whether key lies below one of the DeletePrefixes.
func (p *bucketPlan) underDeletePrefix(key string) bool {
	for _, prefix := range p.prefixes {
		if strings.HasPrefix(key, prefix) {
			return true
		}
	}
	return false
}

// version returns the content version of the plan: the hex SHA-256 over sorted
// "key NUL md5" lines (see Bucket.Apply).
func (p *bucketPlan) version() string {
	h := sha256.New()
	for _, key := range p.keys {
		fmt.Fprintf(h, "%s\x00%s\n", key, p.md5s[key])
	}
	return hex.EncodeToString(h.Sum(nil))
}
