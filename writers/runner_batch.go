package writers

import (
	"slices"

	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/tenants"
)

// addAggregates rebuilds the aggregatedYAML file of every Destination a placement
// of the job touched, from all its live parts; with no part left the file goes.
func (jb *jobBatch) addAggregates() {
	dests := make([]string, 0, len(jb.agg))
	for d, t := range jb.agg {
		if t.touched && t.key != "" {
			dests = append(dests, d)
		}
	}
	slices.Sort(dests)
	for _, d := range dests {
		t := jb.agg[d]
		if len(t.parts) == 0 {
			jb.deleteKeys[t.key] = true
			continue
		}
		jb.putFor(t.works, pathing.File{Path: t.key, Content: pathing.Aggregated(t.parts)})
	}
}

// addCanary writes or removes one Destination's canary files.
func (jb *jobBatch) addCanary(c tenants.CanaryWrite) {
	out := tenants.CanaryOutcome{ID: c.ID, Generation: c.Generation, Delete: c.Delete}
	keys := make([]string, len(c.Files))
	for i, f := range c.Files {
		keys[i] = f.Path
	}
	if c.Delete {
		jb.deleteStale(append(keys, c.WrittenKeys...), nil)
	} else {
		jb.put(c.Files...)
		jb.deleteStale(c.WrittenKeys, keys)
		out.Keys = keys
	}
	jb.canaries = append(jb.canaries, out)
	jb.canaryDests = append(jb.canaryDests, c.Destination)
}

// finish settles the Batch: a key that is put or held by someone else is not
// deleted; a peer whose files lie under a directory the Batch owns is put again
// (unchanged content, no write) so that it survives; and the message is set.
func (jb *jobBatch) finish() {
	puts := make(map[string]bool, len(jb.batch.Puts))
	for _, f := range jb.batch.Puts {
		puts[f.Key] = true
	}
	for _, p := range jb.peers {
		if p.Mode != tenants.ModeAggregated && jb.underOwned(p.Plan) {
			for _, f := range p.Plan.Files {
				if !puts[f.Path] {
					jb.putFor([]tenants.WorkTrail{p.Work}, f)
					puts[f.Path] = true
				}
			}
		}
	}
	for k := range jb.deleteKeys {
		if !puts[k] && !jb.keep[k] {
			jb.batch.Deletes = append(jb.batch.Deletes, k)
		}
	}
	for k := range jb.keep {
		if !puts[k] && jb.underPrefix(k) {
			jb.batch.Keep = append(jb.batch.Keep, k)
		}
	}
	slices.Sort(jb.batch.Keep)
	slices.Sort(jb.batch.Deletes)
	slices.Sort(jb.batch.DeletePrefixes)
	jb.batch.Message = jb.message()
}

// underPrefix reports whether key lies under a DeletePrefix of the Batch.
func (jb *jobBatch) underPrefix(key string) bool {
	return jb.prefixes.covers(key)
}

// underOwned reports whether any file of p lies under a DeletePrefix of the Batch.
func (jb *jobBatch) underOwned(p pathing.Plan) bool {
	for _, f := range p.Files {
		if jb.prefixes.covers(f.Path) {
			return true
		}
	}
	return false
}

// empty reports whether the Batch asks nothing of the store.
func (jb *jobBatch) empty() bool {
	b := jb.batch
	return len(b.Puts) == 0 && len(b.Deletes) == 0 && len(b.DeletePrefixes) == 0
}
