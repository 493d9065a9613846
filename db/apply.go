package db

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// Apply creates or updates every document by name in one transaction: Secrets
// first, then stores, then Destinations (which refer to stores). Any refusal rolls
// the whole file back and comes back as DocErrors naming the document and field.
//
// Objects may come in any order across applies, as with kubectl apply: a store
// whose Secret does not exist yet, or a Destination whose store does not, is saved
// with a warning and waits, not ready; a Secret or store applied later releases
// what waited for it, without a re-apply.
//
// Of several documents of the same kind and name, only the last one is applied
// (see tenants.Document.SupersededBy); a skipped or superseded document is
// reported as skipped. With
// opts.DryRun the same transaction is rolled back at the end, so that a dry run
// cannot disagree with the apply it previews.
func (d *DB) Apply(ctx context.Context, tenantID int64, docs []tenants.Document, opts tenants.ApplyOptions) (tenants.Applied, error) {
	out := tenants.Applied{DryRun: opts.DryRun, Results: make([]tenants.ApplyResult, len(docs))}
	uses := secretUses(docs)
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		out.Warnings, out.Revived = nil, nil
		if err := d.lockTenant(ctx, tx, tenantID, true); err != nil {
			return err
		}
		// Each store, Secret or Destination saved would re-plan every Work of
		// the team: the apply re-plans once, after the last (an apply of 20
		// Destinations to a team of 10,000 Works took 8 – 10 s, all of it with
		// the team's submits waiting).
		later := &replanLater{}
		txCtx := ctx
		ctx := context.WithValue(ctx, replanLaterKey{}, later)
		for _, pass := range []func(*tenants.Document) bool{
			func(doc *tenants.Document) bool { return doc.Secret != nil },
			func(doc *tenants.Document) bool { return doc.Git != nil || doc.Bucket != nil },
			func(doc *tenants.Document) bool { return doc.Destination != nil },
		} {
			for i := range docs {
				if !pass(&docs[i]) || docs[i].SupersededBy != 0 {
					continue
				}
				res, err := d.applyDiffed(ctx, tx, tenantID, &docs[i], uses, opts)
				if err != nil {
					return docError(&docs[i], err)
				}
				res.Index, res.Kind, res.Name = docs[i].Index, docs[i].Kind, docs[i].Name
				out.Results[i] = res
				if err := d.afterApply(ctx, tx, tenantID, &docs[i], &out); err != nil {
					return err
				}
			}
		}
		if later.pending {
			if err := d.replanTenant(txCtx, tx, tenantID); err != nil {
				return err
			}
		}
		if opts.DryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return tenants.Applied{}, err
	}
	noteDocuments(docs, &out, opts)
	return out, nil
}

// noteDocuments adds what the parser noted to the results and warnings: the
// skipped and superseded documents and the warnings on applied ones, all warnings
// in document order.
func noteDocuments(docs []tenants.Document, out *tenants.Applied, opts tenants.ApplyOptions) {
	for i, doc := range docs {
		if doc.Skipped != "" || doc.SupersededBy != 0 {
			out.Results[i] = tenants.ApplyResult{Index: doc.Index, Kind: doc.Kind, Name: doc.Name, Action: tenants.ActionSkipped}
			if opts.Diff {
				out.Results[i].Diff = []tenants.FieldChange{}
			}
		}
		if doc.Skipped != "" {
			out.Warnings = append(out.Warnings, tenants.ApplyWarning{Index: doc.Index, Kind: doc.Kind, Name: doc.Name, Message: doc.Skipped})
		}
		for _, w := range doc.Warnings {
			out.Warnings = append(out.Warnings, tenants.ApplyWarning{Index: doc.Index, Kind: doc.Kind, Name: doc.Name, Message: w})
		}
	}
	slices.SortStableFunc(out.Warnings, func(a, b tenants.ApplyWarning) int { return a.Index - b.Index })
}

// applyDiffed is applyOne, with the fields it changed when opts ask for them.
func (d *DB) applyDiffed(ctx context.Context, tx *sqlx.Tx, tenantID int64, doc *tenants.Document, uses map[string][]string, opts tenants.ApplyOptions) (tenants.ApplyResult, error) {
	if !opts.Diff {
		return d.applyOne(ctx, tx, tenantID, doc, uses)
	}
	before, err := d.stateOf(ctx, tx, tenantID, doc)
	if err != nil {
		return tenants.ApplyResult{}, err
	}
	res, err := d.applyOne(ctx, tx, tenantID, doc, uses)
	if err != nil {
		return tenants.ApplyResult{}, err
	}
	after, err := d.stateOf(ctx, tx, tenantID, doc)
	res.Diff = tenants.DiffStates(before, after)
	return res, err
}

// stateOf is what a diff compares of the object doc names, as stored now in tx: a
// zero state when there is none.
func (d *DB) stateOf(ctx context.Context, tx *sqlx.Tx, tenantID int64, doc *tenants.Document) (tenants.ObjectState, error) {
	switch {
	case doc.Secret != nil:
		var id int64
		err := tx.GetContext(ctx, &id, `SELECT id FROM secrets WHERE tenant_id = ? AND name = ?`, tenantID, doc.Name)
		if err != nil {
			return tenants.ObjectState{}, mapMissing(err)
		}
		data, err := d.loadCredentials(ctx, tx, tenantID, ownerSecret, id)
		obj := map[string]any{"apiVersion": tenants.SecretAPIVersion, "kind": tenants.KindSecret, "metadata": map[string]any{"name": doc.Name}}
		return tenants.KratixState(obj, keyed("data", data)), err
	case doc.Git != nil:
		g, err := d.findGit(ctx, tx, tenantID, doc.Name)
		if isNotFound(err) {
			return tenants.ObjectState{}, nil
		}
		return tenants.KratixState(g.KratixObject(), keyed("credentials", gitCreds(g.Credentials))), err
	case doc.Bucket != nil:
		b, err := d.findBucket(ctx, tx, tenantID, doc.Name)
		if isNotFound(err) {
			return tenants.ObjectState{}, nil
		}
		return tenants.KratixState(b.KratixObject(), keyed("credentials", bucketCreds(b.Credentials))), err
	case doc.Destination != nil:
		var r destRow
		err := tx.GetContext(ctx, &r, `SELECT `+destCols+` FROM destinations WHERE tenant_id = ? AND name = ?`, tenantID, doc.Name)
		if err != nil {
			return tenants.ObjectState{}, mapMissing(err)
		}
		return tenants.KratixState(r.domain().KratixObject(), nil), nil
	}
	return tenants.ObjectState{}, nil
}

// keyed names a set secret values the way a diff shows them: `data[password]`.
func keyed(prefix string, m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if v != "" {
			out[prefix+"["+k+"]"] = v
		}
	}
	return out
}

// afterApply records what the saved document waits for, or what waited for it.
func (d *DB) afterApply(ctx context.Context, tx *sqlx.Tx, tenantID int64, doc *tenants.Document, out *tenants.Applied) error {
	warn := func(format string, args ...any) {
		out.Warnings = append(out.Warnings, tenants.ApplyWarning{Index: doc.Index, Kind: doc.Kind, Name: doc.Name,
			Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case doc.Secret != nil:
		refs, problems, err := d.useSecret(ctx, tx, tenantID, *doc.Secret)
		out.Revived = append(out.Revived, refs...)
		for _, p := range problems {
			warn("%s", p)
		}
		return err
	case doc.Git != nil && doc.Git.SecretMissing:
		warn("referenced Secret %q does not exist yet: the store is not ready until it is applied", doc.Git.SecretRef)
	case doc.Bucket != nil && doc.Bucket.SecretMissing:
		warn("referenced Secret %q does not exist yet: the store is not ready until it is applied", doc.Bucket.SecretRef)
	case doc.Destination != nil:
		ok, err := storeExists(ctx, tx, tenantID, doc.Destination.StoreKind, doc.Destination.StoreName)
		if err == nil && !ok {
			warn("referenced %s %q does not exist yet: the Destination is not ready, and nothing is placed on it, until it is applied",
				doc.Destination.StoreKind, doc.Destination.StoreName)
		}
		return err
	}
	return nil
}

// useSecret fills in the credentials of the stores that waited for Secret sec and
// saves them (which releases their Destinations). It returns them, and what is
// still wrong with their credentials (a key the Secret lacks).
func (d *DB) useSecret(ctx context.Context, tx *sqlx.Tx, tenantID int64, sec tenants.Secret) ([]tenants.StoreRef, []string, error) {
	var refs []tenants.StoreRef
	var problems []string
	var gits []gitRow
	if err := tx.SelectContext(ctx, &gits, `SELECT `+gitCols+` FROM git_stores WHERE tenant_id = ? AND secret_ref = ? AND secret_missing`,
		tenantID, sec.Name); err != nil {
		return nil, nil, err
	}
	for _, r := range gits {
		s := r.domain()
		s.UseSecret(sec)
		if err := s.Validate(); err != nil {
			problems = append(problems, fmt.Sprintf("%s %q now reads this Secret, but: %v", tenants.KindGit, s.Name, err))
		}
		if _, err := d.saveGit(ctx, tx, &s, false); err != nil {
			return nil, nil, err
		}
		if err := bindSecret(ctx, tx, tenantID, sec.Name, []string{s.CredentialEndpoint()}, false); err != nil {
			return nil, nil, err
		}
		problems = append(problems, fmt.Sprintf("its credentials now go to %s %q, which waited for it, at %s", tenants.KindGit, s.Name, s.CredentialEndpoint()))
		refs = append(refs, tenants.StoreRef{TenantID: tenantID, Kind: tenants.KindGit, Name: s.Name})
	}
	var buckets []bucketRow
	if err := tx.SelectContext(ctx, &buckets, `SELECT `+bucketCols+` FROM bucket_stores WHERE tenant_id = ? AND secret_ref = ? AND secret_missing`,
		tenantID, sec.Name); err != nil {
		return nil, nil, err
	}
	for _, r := range buckets {
		s := r.domain()
		s.UseSecret(sec)
		if err := s.Validate(); err != nil {
			problems = append(problems, fmt.Sprintf("%s %q now reads this Secret, but: %v", tenants.KindBucket, s.Name, err))
		}
		if _, err := d.saveBucket(ctx, tx, &s, false); err != nil {
			return nil, nil, err
		}
		if err := bindSecret(ctx, tx, tenantID, sec.Name, []string{s.CredentialEndpoint()}, false); err != nil {
			return nil, nil, err
		}
		problems = append(problems, fmt.Sprintf("its credentials now go to %s %q, which waited for it, at %s", tenants.KindBucket, s.Name, s.CredentialEndpoint()))
		refs = append(refs, tenants.StoreRef{TenantID: tenantID, Kind: tenants.KindBucket, Name: s.Name})
	}
	return refs, problems, nil
}

// secretUses maps each Secret of the file to the endpoints of the stores in the
// same file that read it: the endpoints its values are entered for.
func secretUses(docs []tenants.Document) map[string][]string {
	uses := map[string][]string{}
	for i := range docs {
		if s := docs[i].Secret; s != nil {
			uses[s.Name] = nil
		}
	}
	for i := range docs {
		if docs[i].SupersededBy != 0 {
			continue // not applied: its endpoint gets nothing
		}
		if u, ok := useOf(&docs[i]); ok && u.needs {
			if _, in := uses[u.secretRef]; in {
				uses[u.secretRef] = append(uses[u.secretRef], u.endpoint)
			}
		}
	}
	return uses
}

func (d *DB) applyOne(ctx context.Context, tx *sqlx.Tx, tenantID int64, doc *tenants.Document, uses map[string][]string) (tenants.ApplyResult, error) {
	var res tenants.ApplyResult
	var err error
	switch {
	case doc.Secret != nil:
		res.Action, err = d.applySecret(ctx, tx, tenantID, doc.Secret, uses[doc.Secret.Name])
	case doc.Git != nil:
		doc.Git.TenantID = tenantID
		res, err = d.applyGit(ctx, tx, doc, uses)
	case doc.Bucket != nil:
		doc.Bucket.TenantID = tenantID
		res, err = d.applyBucket(ctx, tx, doc, uses)
	default:
		doc.Destination.TenantID = tenantID
		var saved tenants.Saved
		saved, err = d.saveDestination(ctx, tx, doc.Destination)
		res.Action, res.Message = saved.Action, saved.Message
	}
	return res, err
}

func (d *DB) applyGit(ctx context.Context, tx *sqlx.Tx, doc *tenants.Document, uses map[string][]string) (tenants.ApplyResult, error) {
	g := doc.Git
	old, err := d.findGit(ctx, tx, g.TenantID, g.Name)
	if err != nil && !isNotFound(err) {
		return tenants.ApplyResult{}, err
	}
	exists := err == nil
	var res tenants.ApplyResult
	if exists && old.CredentialEndpoint() != g.CredentialEndpoint() {
		res.Moved = old.CredentialEndpoint()
	}
	if u, _ := useOf(doc); !inFile(uses, u.secretRef) && !g.SecretMissing {
		same := exists && old.Credentials == g.Credentials
		if err := checkSecretUse(ctx, tx, g.TenantID, u, same, old.CredentialEndpoint()); err != nil {
			return tenants.ApplyResult{}, err
		}
	}
	saved, err := d.saveGit(ctx, tx, g, false)
	res.Action, res.Message = saved.Action, saved.Message
	return res, err
}

func (d *DB) applyBucket(ctx context.Context, tx *sqlx.Tx, doc *tenants.Document, uses map[string][]string) (tenants.ApplyResult, error) {
	b := doc.Bucket
	old, err := d.findBucket(ctx, tx, b.TenantID, b.Name)
	if err != nil && !isNotFound(err) {
		return tenants.ApplyResult{}, err
	}
	exists := err == nil
	var res tenants.ApplyResult
	if exists && old.CredentialEndpoint() != b.CredentialEndpoint() {
		res.Moved = old.CredentialEndpoint()
	}
	if u, _ := useOf(doc); !inFile(uses, u.secretRef) && !b.SecretMissing {
		same := exists && old.Credentials == b.Credentials
		if err := checkSecretUse(ctx, tx, b.TenantID, u, same, old.CredentialEndpoint()); err != nil {
			return tenants.ApplyResult{}, err
		}
	}
	saved, err := d.saveBucket(ctx, tx, b, false)
	res.Action, res.Message = saved.Action, saved.Message
	return res, err
}

func inFile(uses map[string][]string, secret string) bool {
	_, ok := uses[secret]
	return ok
}

func (d *DB) applySecret(ctx context.Context, tx *sqlx.Tx, tenantID int64, s *tenants.Secret, endpoints []string) (string, error) {
	var id int64
	err := tx.GetContext(ctx, &id, `SELECT id FROM secrets WHERE tenant_id = ? AND name = ?`, tenantID, s.Name)
	action := tenants.ActionCreated
	if err == nil {
		old, err := d.loadCredentials(ctx, tx, tenantID, ownerSecret, id)
		if err != nil {
			return "", err
		}
		if maps.Equal(old, nonEmpty(s.Data)) {
			return tenants.ActionUnchanged, bindSecret(ctx, tx, tenantID, s.Name, endpoints, false)
		}
		action = tenants.ActionUpdated
	} else if err := mapMissing(err); err != nil {
		return "", err
	}
	if err := d.saveSecret(ctx, tx, tenantID, s.Name, s.Data); err != nil {
		return "", err
	}
	return action, bindSecret(ctx, tx, tenantID, s.Name, endpoints, true)
}

func nonEmpty(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// docError names the document a save refused; validation errors keep their field.
func docError(doc *tenants.Document, err error) error {
	de := tenants.DocError{Index: doc.Index, Kind: doc.Kind, Name: doc.Name, Message: err.Error()}
	var ve *tenants.ValidationError
	switch {
	case errors.As(err, &ve):
		de.Field, de.Message = ve.Field, ve.Message
	case errors.Is(err, tenants.ErrConflict), errors.Is(err, tenants.ErrNotFound):
	default:
		return err
	}
	return tenants.DocErrors{de}
}
