package writers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stateward/stateward/forge"
	"github.com/stateward/stateward/tenants"
)

// PRStore is what the upkeep of pull requests needs from the database (package
// db implements it).
type PRStore interface {
	GitStore(ctx context.Context, tenantID int64, name string) (tenants.GitStateStore, error)
	PRMerged(ctx context.Context, ref tenants.StoreRef, number int, headSHA, mergeSHA, mergedBy string) error
	PRClosed(ctx context.Context, ref tenants.StoreRef, number int, headSHA, closedBy string) error
	RecordPR(ctx context.Context, ref tenants.StoreRef, number int, url, bodyHash string) error
	RecordPRError(ctx context.Context, ref tenants.StoreRef, msg string) error
	RecordPRHook(ctx context.Context, ref tenants.StoreRef, status string) error
	PRBodyHash(ctx context.Context, ref tenants.StoreRef) (string, error)
	DuePRChecks(ctx context.Context, every time.Duration) ([]tenants.StoreRef, error)
	Proposals(ctx context.Context, ref tenants.StoreRef) (string, []tenants.Proposal, error)
	RequestWrite(ctx context.Context, ref tenants.StoreRef) error
}

// DefaultPRPoll is how often a store's open pull request is looked at without a
// webhook.
const DefaultPRPoll = 30 * time.Second

// prTimeout bounds one look at a store's pull request.
const prTimeout = 2 * time.Minute

// prKeeper keeps the pull requests of the pull-request stores: one sync at a
// time per store, another one run after it when asked meanwhile.
type prKeeper struct {
	mu      sync.Mutex
	running map[tenants.StoreRef]bool
	again   map[tenants.StoreRef]bool
	forges  map[tenants.StoreRef]cachedForge
	// nextEdit is when each store's pull request may be edited again.
	nextEdit map[tenants.StoreRef]time.Time
	wg       sync.WaitGroup
}

type cachedForge struct {
	f   forge.Forge
	key string
}

// editWait is how long an edit of the store's pull request must wait for the
// host's pace; zero books the edit now.
func (k *prKeeper) editWait(ref tenants.StoreRef, provider string) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	if next := k.nextEdit[ref]; now.Before(next) {
		return next.Sub(now)
	}
	k.nextEdit[ref] = now.Add(forge.DefaultContentInterval(provider))
	return 0
}

// PokePR asks for a look at the store's pull request now (a webhook arrived, a
// write finished). It never blocks.
func (r *Runner) PokePR(ref tenants.StoreRef) {
	r.init()
	if r.PRs == nil {
		return
	}
	k := &r.prs
	k.mu.Lock()
	defer k.mu.Unlock()
	if r.runCtx == nil || r.runCtx.Err() != nil {
		return
	}
	if k.running[ref] {
		k.again[ref] = true
		return
	}
	k.running[ref] = true
	ctx := r.runCtx
	k.wg.Go(func() { r.prLoop(ctx, ref) })
}

func (r *Runner) prLoop(ctx context.Context, ref tenants.StoreRef) {
	k := &r.prs
	for {
		sctx, cancel := context.WithTimeout(ctx, prTimeout)
		r.syncPR(sctx, ref)
		cancel()
		k.mu.Lock()
		if !k.again[ref] || ctx.Err() != nil {
			delete(k.running, ref)
			delete(k.again, ref)
			k.mu.Unlock()
			return
		}
		delete(k.again, ref)
		k.mu.Unlock()
	}
}

// pollPRs looks at every pull-request store with an open pull request (or
// changes to propose) at least every PRPoll: the fallback for hosts whose
// webhooks do not reach Stateward.
func (r *Runner) pollPRs(ctx context.Context) {
	tick := max(min(r.PRPoll/30, time.Second), 50*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		// Due a tick early, so that no store waits longer than PRPoll.
		due, err := r.PRs.DuePRChecks(ctx, r.PRPoll-tick)
		if err != nil && ctx.Err() == nil {
			r.Log.Warn("pull requests: look for due stores", "err", err)
		}
		for _, ref := range due {
			r.PokePR(ref)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// syncPR brings a store's pull request in line: a merged one settles its
// placements written, a closed one rejected; an open one is merged when the
// store asks for it and the host allows; what is proposed without a pull
// request gets one; its title and body follow what it carries; a head branch
// with someone else's commit gets one comment saying why Stateward stopped.
func (r *Runner) syncPR(ctx context.Context, ref tenants.StoreRef) {
	log := r.Log.With("tenant_id", ref.TenantID, "store", ref.Name)
	s, err := r.PRs.GitStore(ctx, ref.TenantID, ref.Name)
	if err != nil || s.PullRequest == nil {
		if err != nil && !errors.Is(err, tenants.ErrNotFound) {
			log.Warn("pull request: read store", "err", err)
		}
		return
	}
	f, err := r.forge(s)
	if err == nil {
		err = r.syncWith(ctx, ref, s, f, log)
	}
	if err != nil {
		var rl *forge.RateLimitError
		if errors.As(err, &rl) {
			time.AfterFunc(rl.RetryAfter, func() { r.PokePR(ref) })
		}
		log.Warn("pull request", "err", err)
		if rerr := r.PRs.RecordPRError(context.WithoutCancel(ctx), ref, err.Error()); rerr != nil {
			log.Warn("pull request: record error", "err", rerr)
		}
	}
}

func (r *Runner) syncWith(ctx context.Context, ref tenants.StoreRef, s tenants.GitStateStore, f forge.Forge, log interface {
	Info(string, ...any)
}) error {
	if s.PR.Number != 0 {
		pr, err := f.Get(ctx, s.PR.Number)
		if err != nil {
			return fmt.Errorf("read pull request #%d: %w", s.PR.Number, err)
		}
		switch pr.State {
		case forge.Merged:
			log.Info("pull request merged", "number", pr.Number, "merge_commit", pr.MergeCommitSHA, "by", pr.MergedBy)
			defer r.Wake()
			return r.PRs.PRMerged(ctx, ref, pr.Number, pr.HeadSHA, pr.MergeCommitSHA, pr.MergedBy)
		case forge.Closed:
			log.Info("pull request closed without merging", "number", pr.Number, "by", pr.ClosedBy)
			defer r.Wake()
			return r.PRs.PRClosed(ctx, ref, pr.Number, pr.HeadSHA, pr.ClosedBy)
		}
		if s.PR.Warning == "" && s.PullRequest.Merge == tenants.MergeAuto && pr.Mergeable {
			sha, err := f.Merge(ctx, pr.Number, pr.HeadSHA)
			switch {
			case err == nil:
				log.Info("pull request merged (merge: auto)", "number", pr.Number, "merge_commit", sha)
				defer r.Wake()
				return r.PRs.PRMerged(ctx, ref, pr.Number, pr.HeadSHA, sha, "Stateward (merge: auto)")
			case !errors.Is(err, forge.ErrNotMergeable):
				return fmt.Errorf("merge pull request #%d: %w", pr.Number, err)
			}
		}
	}
	if s.PR.Number != 0 && s.PR.Warning == "" {
		if err := r.followBase(ctx, ref, s); err != nil {
			return err
		}
	}
	slug, props, err := r.PRs.Proposals(ctx, ref)
	if err != nil {
		return err
	}
	if s.PR.Number == 0 && len(props) == 0 {
		return nil
	}
	text := describe(s, slug, r.PublicURL, props, f.Limits())
	p := forge.Proposal{Head: s.HeadBranch(), Base: s.Branch, Title: text.Title, Body: text.Body, Labels: s.PullRequest.Labels}
	hash := textHash(p)
	if s.PR.Warning != "" {
		hash = textHash(forge.Proposal{Body: "warning " + s.PR.Warning})
	}
	last, err := r.PRs.PRBodyHash(ctx, ref)
	if err != nil {
		return err
	}
	number, url := s.PR.Number, s.PR.URL
	if number == 0 {
		pr, err := f.Find(ctx, p.Head, p.Base)
		if errors.Is(err, forge.ErrNotFound) {
			if s.PR.Warning != "" {
				return nil // nothing of ours to propose on a head someone else took
			}
			pr, err = f.Open(ctx, p)
			if err == nil {
				log.Info("pull request opened", "number", pr.Number, "url", pr.URL)
				last = hash
			}
		}
		if err != nil {
			return fmt.Errorf("open pull request from %s into %s: %w", p.Head, p.Base, err)
		}
		number, url = pr.Number, pr.URL
		r.ensureHook(ctx, ref, s, f)
	}
	if last != hash && s.PR.Warning == "" && number != 0 && s.PR.Number != 0 {
		// An edit that would wait for the host's pace (GitHub: a few a minute)
		// is left for a later look, at the time it may go: waiting here would
		// hold back noticing a merge.
		if wait := r.prs.editWait(ref, s.PullRequest.Provider); wait > 0 {
			time.AfterFunc(wait, func() { r.PokePR(ref) })
			return nil
		}
	}
	if last != hash {
		if s.PR.Warning != "" {
			if err := f.Comment(ctx, number, s.PR.Warning); err != nil {
				return fmt.Errorf("comment on pull request #%d: %w", number, err)
			}
		} else if _, err := f.Update(ctx, number, p); err != nil {
			return fmt.Errorf("update pull request #%d: %w", number, err)
		}
	}
	return r.PRs.RecordPR(ctx, ref, number, url, hash)
}

// followBase queues a write of the store when its base branch moved since the
// head was built on it (people merged other changes): the write rebuilds the
// head on the new base, so that the pull request never lags behind it (a
// protected branch may refuse to merge an outdated one).
func (r *Runner) followBase(ctx context.Context, ref tenants.StoreRef, s tenants.GitStateStore) error {
	b, err := r.backend(ctx, ref)
	if err != nil {
		return err
	}
	g, ok := b.(*Git)
	if !ok {
		return nil
	}
	tip, err := g.BaseTip(ctx)
	if err != nil || tip == s.PR.Base || s.PR.Base == "" {
		return err
	}
	if err := r.PRs.RequestWrite(ctx, ref); err != nil {
		return err
	}
	r.Wake()
	return nil
}

// ensureHook registers the store's webhook when its credentials may, and says
// on the store what to register by hand otherwise.
func (r *Runner) ensureHook(ctx context.Context, ref tenants.StoreRef, s tenants.GitStateStore, f forge.Forge) {
	if s.PR.Hook == tenants.HookRegistered || r.PublicURL == "" {
		return
	}
	url := tenants.WebhookURL(r.PublicURL, s.HookID)
	status := tenants.HookRegistered
	switch {
	case s.Credentials.WebhookSecret == "":
		status = "not registered: the store's Secret has no webhookSecret key; add one and Stateward registers " + url +
			" (until then it looks at the pull request every 30 s)"
	default:
		err := f.EnsureHook(ctx, url, s.Credentials.WebhookSecret)
		switch {
		case errors.Is(err, forge.ErrForbidden):
			status = "not registered: the store's token may not manage this repository's webhooks; register " + url +
				" by hand with the Secret's webhookSecret as its secret, for pull request and push events"
		case err != nil:
			status = "not registered: " + err.Error()
		}
	}
	if err := r.PRs.RecordPRHook(ctx, ref, status); err != nil {
		r.Log.Warn("pull request: record webhook status", "err", err)
	}
}

func textHash(p forge.Proposal) string {
	h := sha256.Sum256([]byte(p.Title + "\x00" + p.Body + "\x00" + strings.Join(p.Labels, "\x00")))
	return hex.EncodeToString(h[:16])
}

// forge returns the store's Forge, reusing it while the store is unchanged.
func (r *Runner) forge(s tenants.GitStateStore) (forge.Forge, error) {
	ref := tenants.StoreRef{TenantID: s.TenantID, Kind: tenants.KindGit, Name: s.Name}
	key := fmt.Sprintf("%v", gitKey(s)) + fmt.Sprintf("%+v", *s.PullRequest)
	k := &r.prs
	k.mu.Lock()
	defer k.mu.Unlock()
	if c, ok := k.forges[ref]; ok && c.key == key {
		return c.f, nil
	}
	f, err := r.Factory.Forge(s)
	if err != nil {
		return nil, err
	}
	k.forges[ref] = cachedForge{f: f, key: key}
	return f, nil
}
