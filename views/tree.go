package views

import (
	"cmp"
	"slices"
	"strings"
)

// TreeNode is one directory or file of a tree of store keys.
type TreeNode struct {
	Name     string      // the last path segment
	Path     string      // the full path from the root, without leading or trailing "/"
	Dir      bool        // a directory (it has Children)
	Children []*TreeNode // directories first, then files, each sorted by name

	// Decorations, set by the page that shows the tree.
	Kind   string // files: "dependency", "resource", "canary" or "state"
	Owned  bool   // highlighted: owned by a placement
	Work   string // files on a Destination: the Work that placed them
	WorkID int64
	State  string // files on a Destination: the placement's state
}

// BuildTree turns flat slash-separated keys into a tree. Empty segments (leading,
// trailing or doubled slashes) are ignored, as are duplicate and empty keys; a key
// that is both a file and a directory prefix of another key appears as both.
func BuildTree(paths []string) []*TreeNode {
	root := &TreeNode{Dir: true}
	for _, p := range paths {
		segs := splitPath(p)
		if len(segs) == 0 {
			continue
		}
		n := root
		for i, s := range segs {
			n = n.child(s, i < len(segs)-1)
		}
	}
	sortTree(root.Children)
	return root.Children
}

func splitPath(p string) []string {
	var segs []string
	for s := range strings.SplitSeq(p, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs
}

// child returns n's child called name of the given kind, adding it when missing.
func (n *TreeNode) child(name string, dir bool) *TreeNode {
	for _, c := range n.Children {
		if c.Name == name && c.Dir == dir {
			return c
		}
	}
	p := name
	if n.Path != "" {
		p = n.Path + "/" + name
	}
	c := &TreeNode{Name: name, Path: p, Dir: dir}
	n.Children = append(n.Children, c)
	return c
}

func sortTree(nodes []*TreeNode) {
	slices.SortFunc(nodes, func(a, b *TreeNode) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
	for _, n := range nodes {
		sortTree(n.Children)
	}
}

// walkTree calls fn for every node, parents before children.
func walkTree(nodes []*TreeNode, fn func(*TreeNode)) {
	for _, n := range nodes {
		fn(n)
		walkTree(n.Children, fn)
	}
}

// countFiles is the number of files in a tree.
func countFiles(nodes []*TreeNode) int {
	c := 0
	walkTree(nodes, func(n *TreeNode) {
		if !n.Dir {
			c++
		}
	})
	return c
}

func dirSet(dirs []string) map[string]bool {
	set := make(map[string]bool, len(dirs))
	for _, d := range dirs {
		set[strings.Join(splitPath(d), "/")] = true
	}
	return set
}

// previewTree is the preview panel's tree, decorated with kinds and ownership.
func previewTree(p PreviewProps) []*TreeNode {
	paths := make([]string, len(p.Paths))
	meta := make(map[string]PreviewPath, len(p.Paths))
	for i, pp := range p.Paths {
		paths[i] = pp.Path
		meta[strings.Join(splitPath(pp.Path), "/")] = pp
	}
	owned := dirSet(p.OwnedDirs)
	nodes := BuildTree(paths)
	walkTree(nodes, func(n *TreeNode) {
		if n.Dir {
			n.Owned = owned[n.Path]
			return
		}
		m := meta[n.Path]
		n.Kind, n.Owned = m.Kind, m.Owned
	})
	return nodes
}

// placedTree is a Destination's tree of placed files, decorated with their Works.
func placedTree(files []PlacedFile, ownedDirs []string) []*TreeNode {
	paths := make([]string, len(files))
	meta := make(map[string]PlacedFile, len(files))
	for i, f := range files {
		paths[i] = f.Path
		meta[strings.Join(splitPath(f.Path), "/")] = f
	}
	owned := dirSet(ownedDirs)
	nodes := BuildTree(paths)
	walkTree(nodes, func(n *TreeNode) {
		if n.Dir {
			n.Owned = owned[n.Path]
			return
		}
		f := meta[n.Path]
		n.Work, n.WorkID, n.State, n.Kind = f.Work, f.WorkID, f.State, f.Kind
	})
	return nodes
}
