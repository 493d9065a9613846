package writers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/stateward/stateward/tenants"
)

// jobWrite runs one claimed job against its store.
type jobWrite struct {
	r     *Runner
	job   *tenants.Job
	log   *slog.Logger
	lease *jobLease
}

// run writes the job and returns the outcome to record. An error is returned only
// for a write that must be handed back (shutdown, lease lost).
func (jw *jobWrite) run(ctx context.Context) (tenants.JobResult, *jobBatch, error) {
	backend, err := jw.r.backend(ctx, jw.job.Store)
	if s, ok := backend.(interface{ sweep() func() }); ok && jw.job.Full {
		defer s.sweep()() // what a re-assert reads leaves with it (Git.sweep)
	}
	if err == nil {
		err = jw.readStateFiles(ctx, backend)
	}
	if err != nil {
		jb := buildBatch(ctx, jw.job, nil)
		res := tenants.JobResult{Placements: jb.outcomes, Canaries: jb.canaries}
		jw.failed(&res, err)
		return res, jb, nil
	}
	res, jb, err := jw.attempt(ctx, nil)
	switch {
	case errors.Is(err, errShutdown) || errors.Is(err, errTakenOver):
		return res, jb, err
	case err != nil && rejectedContent(err):
		return jw.narrow(ctx, jb, err)
	case err != nil:
		jw.failed(&res, err)
		var foreign *ForeignCommitError
		if errors.As(err, &foreign) {
			res.Blocked = foreign.Error()
		}
	}
	return res, jb, nil
}

// attempt builds the Batch of the job's placements in only (all when nil), keeps
// out what other placements want, and applies it.
func (jw *jobWrite) attempt(ctx context.Context, only map[int64]bool) (tenants.JobResult, *jobBatch, error) {
	jb := buildBatch(ctx, jw.job, only)
	res := tenants.JobResult{Placements: jb.outcomes, Canaries: jb.canaries}
	if jb.empty() && jw.job.PullRequest == nil { // a pull-request store's head may need rebuilding on a moved base
		return res, jb, nil
	}
	if err := jw.protect(ctx, jb); err != nil {
		return res, jb, err
	}
	describe := func() {
		if err := (commitTrail{job: jw.job, publicURL: jw.r.PublicURL}).describe(jb); err != nil {
			jw.log.Warn("the store's commit message template failed on this commit; the default subject is used", "err", err)
		}
	}
	if jw.job.TrailsLater {
		// Read once the write changes the store, however often it retries:
		// for a commit (Describe) or a bucket's objects (ObjectMeta).
		described := false
		trails := func(ctx context.Context) error {
			if !described {
				if err := jw.r.DB.JobTrails(ctx, jw.job); err != nil {
					return fmt.Errorf("read the Works of the write: %w", err)
				}
				jb.fillTrails(jw.job)
				describe()
				described = true
			}
			return nil
		}
		jb.batch.Describe = func(ctx context.Context) (string, *Person, error) {
			err := trails(ctx)
			return jb.batch.Message, jb.batch.Author, err
		}
		jb.batch.ObjectMeta = func(ctx context.Context, keys []string) (map[string]map[string]string, error) {
			if err := trails(ctx); err != nil {
				return nil, err
			}
			return jb.objectMetas(keys), nil
		}
	} else {
		describe()
	}
	jb.batch.Fence = jw.job.InDoubt
	pr := jw.job.PullRequest
	jb.batch.ResetHead = pr != nil && pr.ResetHead
	out, err := jw.r.applyJob(ctx, jw.lease, jb.batch)
	if err != nil {
		return res, jb, err
	}
	res.Version, res.Changed, res.Puts, res.Deletes = out.Version, out.Changed, out.Puts, out.Deletes
	res.StoreOK = true
	if pr != nil {
		res.Head, res.HeadRestarted, res.HeadCarried, res.HeadMerged = out.Head, out.HeadRestarted, out.HeadCarried, out.HeadMerged
		pr.ResetHead = false // a narrowed job's next part builds on this one
		jw.markProposed(&res, out.Proposed)
	}
	return res, jb, nil
}

// markProposed marks, on a pull-request store, each outcome whose keys (written,
// or removed) differ between the head branch and the base branch: the base
// does not hold it until the pull request is merged. The others are written:
// the base holds them already.
func (jw *jobWrite) markProposed(res *tenants.JobResult, proposed map[string]bool) {
	if len(proposed) == 0 {
		return
	}
	touches := func(keys []string, prefix string) bool {
		for _, k := range keys {
			if proposed[k] {
				return true
			}
		}
		if prefix != "" {
			for k := range proposed {
				if strings.HasPrefix(k, prefix) {
					return true
				}
			}
		}
		return false
	}
	byID := make(map[int64]tenants.PlacementWrite, len(jw.job.Writes))
	for _, w := range jw.job.Writes {
		byID[w.ID] = w
	}
	for i, o := range res.Placements {
		if o.Error != "" {
			continue
		}
		w := byID[o.ID]
		res.Placements[i].Proposed = touches(o.Keys, o.Prefix) || touches(w.WrittenKeys, "") || touches(w.Plan.Keys(), "")
	}
	for i, c := range res.Canaries {
		if c.Error == "" {
			res.Canaries[i].Proposed = touches(c.Keys, "")
		}
	}
}

// protect drops from the Batch's removals every key that a live placement or
// canary file wants, and keeps what such claims hold below the Batch's owned
// directories: a write never deletes another Work's files.
func (jw *jobWrite) protect(ctx context.Context, jb *jobBatch) error {
	b := &jb.batch
	if len(b.Deletes) == 0 && len(b.DeletePrefixes) == 0 {
		return nil
	}
	claimed, err := jw.r.DB.Claimed(ctx, jw.job.Store, b.Deletes, b.DeletePrefixes)
	if err != nil {
		return err
	}
	if len(claimed) == 0 {
		return nil
	}
	b.Deletes = slices.DeleteFunc(b.Deletes, func(k string) bool { return slices.Contains(claimed, k) })
	puts := make(map[string]bool, len(b.Puts))
	for _, f := range b.Puts {
		puts[f.Key] = true
	}
	for _, k := range claimed {
		if !puts[k] && jb.underPrefix(k) && !slices.Contains(b.Keep, k) {
			b.Keep = append(b.Keep, k)
		}
	}
	slices.Sort(b.Keep)
	return nil
}

// failed settles a write that failed as a whole: a store that is gone settles its
// removals; otherwise every placement not refused already fails with err and the
// job is retried with backoff. A bucket write may have stopped half way, so the
// keys it was putting are remembered for later removal.
func (jw *jobWrite) failed(res *tenants.JobResult, err error) {
	if errors.Is(err, tenants.ErrNotFound) {
		storeGone(res, err.Error())
		return
	}
	failAll(res, err.Error())
	switch classify(err) {
	case failStore:
		res.StoreErr = err.Error()
	case failRateLimited:
		res.RetryAfter = retryWait(err)
	}
	if jw.job.Store.Kind != tenants.KindBucket {
		return
	}
	for i, o := range res.Placements {
		if !o.Stuck && !o.Delete {
			res.Placements[i].MayHold = jw.wantedKeys(o.ID)
		}
	}
}

// wantedKeys are the keys placement id of the job writes.
func (jw *jobWrite) wantedKeys(id int64) []string {
	for _, w := range jw.job.Writes {
		if w.ID == id {
			return w.Plan.OwnKeys()
		}
	}
	return nil
}

// narrow finds, by splitting the job's placements in halves, which of them the
// store refuses: those fail for good with the store's message (one rejected
// placement never holds back its store), the others are written. Removals,
// aggregatedYAML parts and canary files go with every part. The number of extra
// writes is bounded; placements not settled within it are retried later.
func (jw *jobWrite) narrow(ctx context.Context, first *jobBatch, firstErr error) (tenants.JobResult, *jobBatch, error) {
	n := &narrowing{jw: jw, placements: map[int64]tenants.PlacementOutcome{}, canaries: map[int64]tenants.CanaryOutcome{}}
	var units []int64
	for _, o := range first.outcomes {
		if o.Stuck {
			n.placements[o.ID] = o
		}
	}
	for _, w := range orderWrites(jw.job.Writes) {
		if _, refused := n.placements[w.ID]; !refused && !w.Stuck && !alwaysIncluded(w) {
			units = append(units, w.ID)
		}
	}
	n.budget = 2*bits.Len(uint(len(units))) + 4
	jw.log.Warn("the store refused the write; narrowing it down to the refused placements", "err", firstErr, "placements", len(units))
	if err := n.try(ctx, units, firstErr); err != nil {
		return tenants.JobResult{}, first, err
	}
	return n.result(first, firstErr)
}

// narrowing collects the outcomes of the partial writes of one job.
type narrowing struct {
	jw         *jobWrite
	budget     int
	placements map[int64]tenants.PlacementOutcome
	canaries   map[int64]tenants.CanaryOutcome
	res        tenants.JobResult
	baseDone   bool
}

// try writes the placements set (known is the store's refusal of exactly this set
// when already tried) and splits it when the store refuses it.
func (n *narrowing) try(ctx context.Context, set []int64, known error) error {
	err := known
	if err == nil {
		if n.budget <= 0 {
			n.fail(set, "not written yet: the store refused a write of its batch and the search for the refused placement ran out of attempts; retrying later")
			return nil
		}
		n.budget--
		only := make(map[int64]bool, len(set))
		for _, id := range set {
			only[id] = true
		}
		var res tenants.JobResult
		res, _, err = n.jw.attempt(ctx, only)
		switch {
		case errors.Is(err, errShutdown) || errors.Is(err, errTakenOver):
			return err
		case err == nil:
			n.succeeded(res)
			return nil
		}
	}
	switch {
	case !rejectedContent(err):
		n.fail(set, err.Error())
		switch classify(err) {
		case failStore:
			n.res.StoreErr = err.Error()
		case failRateLimited:
			n.res.RetryAfter = max(n.res.RetryAfter, retryWait(err))
		}
	case len(set) == 1:
		o := n.outcome(set[0])
		o.Error, o.Stuck = fmt.Sprintf("the store refused this placement's files, so it is not retried until the Work is submitted again: %v", err), true
		n.placements[set[0]] = o
	default:
		h := len(set) / 2
		if err := n.try(ctx, set[:h], nil); err != nil {
			return err
		}
		return n.try(ctx, set[h:], nil)
	}
	return nil
}

func (n *narrowing) outcome(id int64) tenants.PlacementOutcome {
	for _, w := range n.jw.job.Writes {
		if w.ID == id {
			return tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Delete: w.Delete}
		}
	}
	return tenants.PlacementOutcome{ID: id}
}

// fail records a transient failure of the placements in set.
func (n *narrowing) fail(set []int64, msg string) {
	for _, id := range set {
		o := n.outcome(id)
		o.Error = msg
		if n.jw.job.Store.Kind == tenants.KindBucket {
			o.MayHold = n.jw.wantedKeys(id)
		}
		n.placements[id] = o
	}
}

// succeeded records a partial write that went through.
func (n *narrowing) succeeded(res tenants.JobResult) {
	n.baseDone = true
	for _, o := range res.Placements {
		n.placements[o.ID] = o
	}
	for _, c := range res.Canaries {
		n.canaries[c.ID] = c
	}
	if res.Version != "" {
		n.res.Version = res.Version
	}
	n.res.Changed = n.res.Changed || res.Changed
	if res.Head != "" {
		n.res.Head = res.Head
	}
	n.res.HeadRestarted = n.res.HeadRestarted || res.HeadRestarted
	n.res.HeadCarried = n.res.HeadCarried || res.HeadCarried
	n.res.HeadMerged = n.res.HeadMerged || res.HeadMerged
	n.res.StoreOK = n.res.StoreOK || res.StoreOK
	n.res.Puts += res.Puts
	n.res.Deletes += res.Deletes
}

// result merges the partial writes into the job's outcome; the job is retried
// when any placement failed for a reason other than a refusal.
func (n *narrowing) result(first *jobBatch, firstErr error) (tenants.JobResult, *jobBatch, error) {
	res := n.res
	for _, w := range n.jw.job.Writes {
		o, ok := n.placements[w.ID]
		if !ok && !w.Stuck {
			o = n.outcome(w.ID)
			o.Error = firstErr.Error()
		}
		if ok || !w.Stuck {
			res.Placements = append(res.Placements, o)
		}
	}
	for _, c := range first.canaries {
		if got, ok := n.canaries[c.ID]; ok {
			res.Canaries = append(res.Canaries, got)
			continue
		}
		c.Error = firstErr.Error()
		res.Canaries = append(res.Canaries, c)
	}
	for _, o := range res.Placements {
		if o.Error != "" && !o.Stuck {
			res.Err = o.Error
		}
	}
	jb := &jobBatch{outcomes: res.Placements, canaries: res.Canaries}
	return res, jb, nil
}

// keyReader reads exact keys from a store; a missing key is left out.
type keyReader interface {
	ReadKeys(ctx context.Context, keys []string) (map[string][]byte, error)
}

// readStateFiles reads back, for every placement on a Destination with filepath
// mode none, the state file the store holds (Kratix's record of what the
// placement wrote), and adds the files it lists to what the placement must
// remove when they are no longer wanted: the store's own record wins over a lost
// database update.
func (jw *jobWrite) readStateFiles(ctx context.Context, backend Backend) error {
	kr, ok := backend.(keyReader)
	if !ok {
		return nil
	}
	var keys []string
	for _, w := range jw.job.Writes {
		if w.Mode == tenants.ModeNone {
			keys = append(keys, stateFileKeys(w)...)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	got, err := kr.ReadKeys(ctx, slices.Compact(keys))
	if err != nil {
		return fmt.Errorf("read state files: %w", err)
	}
	for i, w := range jw.job.Writes {
		if w.Mode != tenants.ModeNone {
			continue
		}
		for _, k := range stateFileKeys(w) {
			if content, ok := got[k]; ok {
				w.WrittenKeys = append(w.WrittenKeys, listedKeys(w, k, content)...)
			}
		}
		slices.Sort(w.WrittenKeys)
		jw.job.Writes[i].WrittenKeys = slices.Compact(w.WrittenKeys)
	}
	return nil
}

// stateFileKeys are the state files of w: its current one and those it wrote.
func stateFileKeys(w tenants.PlacementWrite) []string {
	var out []string
	if w.Plan.StateFile != nil {
		out = append(out, w.Plan.StateFile.Path)
	}
	for _, k := range w.WrittenKeys {
		if strings.Contains(k, "/.kratix/") || strings.HasPrefix(k, ".kratix/") {
			out = append(out, k)
		}
	}
	return out
}

// listedKeys turns the entries of the state file at key into full keys. Entries
// are relative to a directory above the state file (the Destination's, or the
// store's with the Destination path in front, as Kratix writes them); the
// placement's own plan shows which, else the Destination directory is assumed.
func listedKeys(w tenants.PlacementWrite, key string, content []byte) []string {
	var doc struct {
		Files []string `json:"files"`
	}
	if yaml.Unmarshal(content, &doc) != nil {
		return nil
	}
	base := strings.TrimSuffix(path.Dir(path.Dir(key)), ".") // S/D
	if base != "" {
		base += "/"
	}
	if w.Plan.StateFile != nil && len(w.Plan.Files) > 0 {
		var own struct {
			Files []string `json:"files"`
		}
		if yaml.Unmarshal(w.Plan.StateFile.Content, &own) == nil && len(own.Files) > 0 {
			if p, ok := strings.CutSuffix(w.Plan.Files[0].Path, own.Files[0]); ok {
				base = p
			}
		}
	}
	out := make([]string, 0, len(doc.Files))
	for _, f := range doc.Files {
		if k := base + f; checkKey(k) == nil && strings.HasPrefix(k, base) {
			out = append(out, k)
		}
	}
	return out
}
