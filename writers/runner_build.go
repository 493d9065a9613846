package writers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/pressure"
	"github.com/stateward/stateward/tenants"
)

// jobBatch is a Job turned into one Batch, with the outcome to report for each of
// its placements and canaries once the Batch is applied.
type jobBatch struct {
	batch    Batch
	outcomes []tenants.PlacementOutcome
	canaries []tenants.CanaryOutcome
	// writes and deletes name the placements the Batch writes and removes.
	writes, deletes []string
	canaryDests     []string

	owners     map[string]string // key → placement that holds it
	dirs       map[string]string // parent directory of a held key → placement
	keep       map[string]bool   // keys that must survive (held by peers or refused placements)
	deleteKeys map[string]bool
	agg        map[string]*aggTarget // Destination → its aggregatedYAML file
	peers      []tenants.PlacementWrite
	// works are the Works the Batch writes or removes, by id, for the commit
	// message and its trailers.
	works map[int64]*batchWork
	// metaWorks are, by put key, the Works an object's metadata names when
	// their trails were not read with the job (Job.TrailsLater): objectMetas
	// names them once they are.
	metaWorks map[string][]int64
	// prefixes are the Batch's DeletePrefixes as a set, for deletePrefix and
	// underPrefix: a full rewrite has one per nestedByMetadata placement, and
	// a scan of the list per placement made the job quadratic in them.
	prefixes prefixSet
}

// prefixSet is a set of directory prefixes ("a/b/"), asked whether a key lies
// below one of them in the depth of the key, not the size of the set.
type prefixSet struct {
	dirs map[string]bool
	odd  []string // prefixes not ending in "/" (none are made so), scanned
}

// add adds p and reports whether it was new.
func (s *prefixSet) add(p string) bool {
	if !strings.HasSuffix(p, "/") {
		if slices.Contains(s.odd, p) {
			return false
		}
		s.odd = append(s.odd, p)
		return true
	}
	if s.dirs[p] {
		return false
	}
	if s.dirs == nil {
		s.dirs = map[string]bool{}
	}
	s.dirs[p] = true
	return true
}

// covers reports whether key starts with one of the prefixes.
func (s *prefixSet) covers(key string) bool {
	if len(s.dirs) > 0 {
		for i := 0; i < len(key); i++ {
			if key[i] == '/' && s.dirs[key[:i+1]] {
				return true
			}
		}
	}
	for _, p := range s.odd {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// aggTarget is the one file of an aggregatedYAML Destination, rebuilt from the
// parts of all its live placements.
type aggTarget struct {
	key     string
	parts   []pathing.AggregatePart
	works   []tenants.WorkTrail // the Works of parts, for the object's metadata
	touched bool                // a placement of the job writes or removes a part
}

// buildBatch turns job into one Batch. Placements are considered in a stable order
// (already written ones first, then by name) so that when two claim one file (or
// one's file is the other's directory), the one that holds it keeps it and the
// other is refused for good with an error naming both. Submission refuses such
// conflicts already; this is the second line. With only set, the placements it
// does not name are left for a later Batch: what they wrote is kept, and they get
// no outcome.
func buildBatch(ctx context.Context, job *tenants.Job, only map[int64]bool) *jobBatch {
	jb := &jobBatch{owners: map[string]string{}, dirs: map[string]string{}, keep: map[string]bool{}, deleteKeys: map[string]bool{},
		agg: map[string]*aggTarget{}, peers: job.Peers, works: map[int64]*batchWork{}}
	for _, p := range job.Peers {
		jb.addPeer(p)
	}
	for _, w := range orderWrites(job.Writes) {
		pressure.Pace(ctx) // a full rewrite's, while submits pour in
		if w.Stuck {
			jb.hold(w)
			continue
		}
		if only != nil && !only[w.ID] && !alwaysIncluded(w) {
			jb.hold(w)
			continue
		}
		if msg := jb.claim(w); msg != "" {
			jb.refuse(w, msg)
			continue
		}
		jb.addPlacement(w)
	}
	jb.addAggregates()
	for _, c := range job.Canaries {
		jb.addCanary(c)
	}
	jb.finish()
	return jb
}

func orderWrites(ws []tenants.PlacementWrite) []tenants.PlacementWrite {
	out := slices.Clone(ws)
	slices.SortStableFunc(out, func(a, b tenants.PlacementWrite) int {
		if a.Written != b.Written {
			if a.Written {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// addPeer records what a live placement outside the job holds.
func (jb *jobBatch) addPeer(p tenants.PlacementWrite) {
	if p.Mode == tenants.ModeAggregated {
		jb.target(p.Destination, p.Plan.Target).addPart(p.Plan.Aggregate, p.Work)
		return
	}
	for _, k := range append(p.Plan.OwnKeys(), p.WrittenKeys...) {
		jb.owners[k] = p.Name
		jb.keep[k] = true
	}
}

// alwaysIncluded reports whether w is part of every Batch of a job, even one
// narrowed down to find a rejected placement: removals and aggregatedYAML parts
// (which share one file) cannot be the content a remote refuses.
func alwaysIncluded(w tenants.PlacementWrite) bool {
	return w.Delete || w.Mode == tenants.ModeAggregated
}

// claim registers the keys w writes, or says why it may not write them: a key
// that is unsafe, already held by another placement, or one that is a file where
// another placement's key needs a directory (or the reverse).
func (jb *jobBatch) claim(w tenants.PlacementWrite) string {
	if w.Delete {
		return ""
	}
	keys := w.Plan.OwnKeys()
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return fmt.Sprintf("placement %q cannot be written: %v", w.Name, err)
		}
		if other, ok := jb.owners[k]; ok && other != w.Name {
			return fmt.Sprintf("file %q is already written by placement %q; placement %q cannot write it too (two placements may not share a file)",
				k, other, w.Name)
		}
		if other, ok := jb.dirs[k]; ok && other != w.Name {
			return fmt.Sprintf("placement %q cannot write the file %q: placement %q has files below it, so it must stay a directory",
				w.Name, k, other)
		}
		for _, dir := range pathing.ParentDirs(k) {
			if other, ok := jb.owners[dir]; ok && other != w.Name {
				return fmt.Sprintf("placement %q cannot write %q: %q is a file of placement %q, not a directory",
					w.Name, k, dir, other)
			}
		}
	}
	for _, k := range keys {
		jb.owners[k] = w.Name
		for _, dir := range pathing.ParentDirs(k) {
			jb.dirs[dir] = w.Name
		}
	}
	return ""
}

// hold leaves w out of this Batch and keeps what it wrote before.
func (jb *jobBatch) hold(w tenants.PlacementWrite) {
	for _, k := range w.WrittenKeys {
		jb.keep[k] = true
	}
}

// refuse reports w failed for good and keeps what it wrote before.
func (jb *jobBatch) refuse(w tenants.PlacementWrite, msg string) {
	jb.hold(w)
	jb.outcomes = append(jb.outcomes, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Delete: w.Delete, Error: msg, Stuck: true})
}

func (jb *jobBatch) target(dest, key string) *aggTarget {
	t := jb.agg[dest]
	if t == nil {
		t = &aggTarget{key: key}
		jb.agg[dest] = t
	}
	if t.key == "" {
		t.key = key
	}
	return t
}

func (t *aggTarget) addPart(p *pathing.AggregatePart, w tenants.WorkTrail) {
	if p != nil {
		t.parts = append(t.parts, *p)
		t.works = append(t.works, w)
	}
}

// addPlacement adds what writing or removing w takes.
func (jb *jobBatch) addPlacement(w tenants.PlacementWrite) {
	out := tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Delete: w.Delete}
	switch {
	case w.Mode == tenants.ModeAggregated:
		t := jb.target(w.Destination, w.Plan.Target)
		t.touched = true
		if !w.Delete {
			t.addPart(w.Plan.Aggregate, w.Work)
			out.Keys = []string{w.Plan.Target}
		}
		jb.deleteStale(w.WrittenKeys, out.Keys)
	case w.Delete:
		jb.deleteStale(w.WrittenKeys, nil)
		jb.deleteStale(w.Plan.OwnKeys(), nil)
		jb.deletePrefix(w.Plan.OwnedPrefix, w.WrittenPrefix)
	default:
		jb.putFor([]tenants.WorkTrail{w.Work}, w.Plan.Files...)
		if w.Plan.StateFile != nil {
			jb.putFor([]tenants.WorkTrail{w.Work}, *w.Plan.StateFile)
		}
		out.Keys, out.Prefix = w.Plan.OwnKeys(), w.Plan.OwnedPrefix
		jb.deleteStale(w.WrittenKeys, out.Keys)
		jb.deletePrefix(w.Plan.OwnedPrefix, w.WrittenPrefix)
	}
	if w.Delete {
		jb.deletes = append(jb.deletes, w.Name)
	} else {
		jb.writes = append(jb.writes, w.Name)
	}
	jb.addWork(w)
	jb.outcomes = append(jb.outcomes, out)
}

func (jb *jobBatch) put(files ...pathing.File) {
	jb.putFor(nil, files...)
}

// putFor puts files with the bucket metadata that names works, or, when their
// trails are not read yet, records which Works it will name (objectMetas).
func (jb *jobBatch) putFor(works []tenants.WorkTrail, files ...pathing.File) {
	meta := objectMetaOf(works)
	var later []int64
	if len(works) > 0 && meta == nil {
		for _, w := range works {
			later = append(later, w.ID)
		}
	}
	for _, f := range files {
		jb.batch.Puts = append(jb.batch.Puts, File{Key: f.Path, Content: f.Content, Meta: meta})
		switch {
		case later != nil && jb.metaWorks == nil:
			jb.metaWorks = map[string][]int64{f.Path: later}
		case later != nil:
			jb.metaWorks[f.Path] = later
		default:
			delete(jb.metaWorks, f.Path) // the last Put of a key wins
		}
	}
}

// deleteStale deletes the keys of old that are not in current.
func (jb *jobBatch) deleteStale(old, current []string) {
	for _, k := range old {
		if !slices.Contains(current, k) {
			jb.deleteKeys[k] = true
		}
	}
}

// deletePrefix removes the stale files of the owned directories (the current one
// and, when the placement moved, the one it wrote before).
func (jb *jobBatch) deletePrefix(prefixes ...string) {
	for _, p := range prefixes {
		if p != "" && jb.prefixes.add(p) {
			jb.batch.DeletePrefixes = append(jb.batch.DeletePrefixes, p)
		}
	}
}
