package writers

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/tenants"
)

// Diff compares what each planned write would leave in its store with what the
// store holds now, and returns one FileDiff per write, in order. Each store is
// read once, under the Destinations' directories: a Git store from its cached
// clone (after a fetch), a bucket with one LIST per directory and a GET only for
// the objects whose content differs (their ETag is the MD5 of the content). It
// reads through the Runner's own Backend of the store, so it never races a write.
// Nothing is written.
func (r *Runner) Diff(ctx context.Context, writes []tenants.PlannedWrite) ([]tenants.FileDiff, error) {
	out := make([]tenants.FileDiff, len(writes))
	byStore := map[tenants.StoreRef][]int{}
	var order []tenants.StoreRef
	for i, w := range writes {
		if _, ok := byStore[w.Store]; !ok {
			order = append(order, w.Store)
		}
		byStore[w.Store] = append(byStore[w.Store], i)
	}
	for _, ref := range order {
		idx := byStore[ref]
		roots := make([]string, len(idx))
		for n, i := range idx {
			roots[n] = writes[i].Root
		}
		view, err := r.storeView(ctx, ref, roots)
		if err != nil {
			return nil, fmt.Errorf("read %s %q: %w", ref.Kind, ref.Name, err)
		}
		for _, i := range idx {
			if out[i], err = diffWrite(ctx, view, writes[i]); err != nil {
				return nil, fmt.Errorf("read %s %q: %w", ref.Kind, ref.Name, err)
			}
		}
	}
	return out, nil
}

// storeView is what a store holds under some directories.
type storeView interface {
	// keys are every key read, sorted.
	keys() []string
	has(key string) bool
	// same reports whether key holds exactly content.
	same(key string, content []byte) bool
	content(ctx context.Context, key string) ([]byte, error)
}

func (r *Runner) storeView(ctx context.Context, ref tenants.StoreRef, roots []string) (storeView, error) {
	b, err := r.backend(ctx, ref)
	if err != nil {
		return nil, err
	}
	prefixes := readPrefixes(roots)
	switch s := b.(type) {
	case *Git:
		files := map[string][]byte{}
		for _, p := range prefixes {
			got, err := s.Read(ctx, p)
			if err != nil {
				return nil, err
			}
			for k, v := range got {
				files[k] = v
			}
		}
		return gitView(files), nil
	case *Bucket:
		etags, err := s.list(ctx, prefixes)
		if err != nil {
			return nil, err
		}
		return &bucketView{b: s, etags: etags}, nil
	}
	return nil, fmt.Errorf("%s %q cannot be read", ref.Kind, ref.Name)
}

// readPrefixes turns Destination directories into distinct read prefixes ending
// in "/"; the store root ("") reads everything.
func readPrefixes(roots []string) []string {
	var out []string
	for _, root := range roots {
		if root == "" {
			return []string{""}
		}
		if p := root + "/"; !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

type gitView map[string][]byte

func (v gitView) keys() []string {
	out := make([]string, 0, len(v))
	for k := range v {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (v gitView) has(key string) bool { _, ok := v[key]; return ok }

func (v gitView) same(key string, content []byte) bool {
	old, ok := v[key]
	return ok && string(old) == string(content)
}

func (v gitView) content(_ context.Context, key string) ([]byte, error) { return v[key], nil }

type bucketView struct {
	b     *Bucket
	etags map[string]string
}

func (v *bucketView) keys() []string {
	out := make([]string, 0, len(v.etags))
	for k := range v.etags {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (v *bucketView) has(key string) bool { _, ok := v.etags[key]; return ok }

func (v *bucketView) same(key string, content []byte) bool {
	sum := md5.Sum(content)
	return v.etags[key] == hex.EncodeToString(sum[:])
}

func (v *bucketView) content(ctx context.Context, key string) ([]byte, error) {
	return v.b.get(ctx, key)
}

// diffWrite is one placement's FileDiff against view.
func diffWrite(ctx context.Context, view storeView, w tenants.PlannedWrite) (tenants.FileDiff, error) {
	d := tenants.FileDiff{Added: []string{}, Changed: []tenants.ChangedFile{}, Removed: []string{}}
	puts := make(map[string]bool, len(w.Puts))
	for _, f := range w.Puts {
		puts[f.Path] = true
		switch {
		case !view.has(f.Path):
			d.Added = append(d.Added, f.Path)
		case !view.same(f.Path, f.Content):
			old, err := view.content(ctx, f.Path)
			if err != nil {
				return d, err
			}
			if u := unifiedDiff(f.Path, old, f.Content); u != "" {
				d.Changed = append(d.Changed, tenants.ChangedFile{Path: f.Path, Unified: u})
			}
		}
	}
	gone, err := removedKeys(ctx, view, w)
	if err != nil {
		return d, err
	}
	for _, k := range gone {
		if !puts[k] && view.has(k) && !slices.Contains(d.Removed, k) {
			d.Removed = append(d.Removed, k)
		}
	}
	slices.Sort(d.Added)
	slices.Sort(d.Removed)
	slices.SortFunc(d.Changed, func(a, b tenants.ChangedFile) int { return strings.Compare(a.Path, b.Path) })
	return d, nil
}

// removedKeys are the keys the write would delete if present: everything under
// its owned directory, the files its stored state file lists, what it wrote
// last time.
func removedKeys(ctx context.Context, view storeView, w tenants.PlannedWrite) ([]string, error) {
	gone := slices.Clone(w.Written)
	if w.OwnedPrefix != "" {
		for _, k := range view.keys() {
			if strings.HasPrefix(k, w.OwnedPrefix) {
				gone = append(gone, k)
			}
		}
	}
	if w.StateFile != "" && view.has(w.StateFile) {
		content, err := view.content(ctx, w.StateFile)
		if err != nil {
			return nil, err
		}
		// An unreadable state file lists nothing the write would remove.
		if paths, err := pathing.ParseStateFile(content); err == nil {
			for _, p := range paths {
				k := joinStoreKey(w.StorePath, p)
				if w.Root == "" || strings.HasPrefix(k, w.Root+"/") {
					gone = append(gone, k)
				}
			}
		}
	}
	return gone, nil
}

func joinStoreKey(storePath, p string) string {
	if storePath == "" {
		return p
	}
	return storePath + "/" + p
}
