package db

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// ApplyResult is what apply did with one document.
type ApplyResult struct {
	Index  int    `json:"index"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action string `json:"action"`
}

// DocErrors are the documents apply refused; nothing was applied.
type DocErrors []tenants.DocError

// Error implements error.
func (es DocErrors) Error() string {
	if len(es) == 0 {
		return "no errors"
	}
	return es[0].Error()
}

// ApplyWarning is a document Apply accepted that refers to something that does not
// exist yet (Kratix answers such a document with an admission warning).
type ApplyWarning struct {
	Index   int    `json:"index"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Applied is what Apply did.
type Applied struct {
	Results  []ApplyResult
	Warnings []ApplyWarning
	// Revived are stores that waited for a Secret this apply brought: their
	// credentials are filled in and they should be checked now.
	Revived []tenants.StoreRef
}

// Apply creates or updates every document by name in one transaction: Secrets
// first, then stores, then Destinations (which refer to stores). Any refusal rolls
// the whole file back and comes back as DocErrors naming the document and field.
//
// Objects may come in any order across applies, as with kubectl apply: a store
// whose Secret does not exist yet, or a Destination whose store does not, is saved
// with a warning and waits, not ready; a Secret or store applied later releases
// what waited for it, without a re-apply.
func (d *DB) Apply(ctx context.Context, tenantID int64, docs []tenants.Document) (Applied, error) {
	out := Applied{Results: make([]ApplyResult, len(docs))}
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		out.Warnings, out.Revived = nil, nil
		for _, pass := range []func(*tenants.Document) bool{
			func(doc *tenants.Document) bool { return doc.Secret != nil },
			func(doc *tenants.Document) bool { return doc.Git != nil || doc.Bucket != nil },
			func(doc *tenants.Document) bool { return doc.Destination != nil },
		} {
			for i := range docs {
				if !pass(&docs[i]) {
					continue
				}
				action, err := d.applyOne(ctx, tx, tenantID, &docs[i])
				if err != nil {
					return docError(&docs[i], err)
				}
				out.Results[i] = ApplyResult{Index: docs[i].Index, Kind: docs[i].Kind, Name: docs[i].Name, Action: action}
				if err := d.afterApply(ctx, tx, tenantID, &docs[i], &out); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return Applied{}, err
	}
	return out, nil
}

// afterApply records what the saved document waits for, or what waited for it.
func (d *DB) afterApply(ctx context.Context, tx *sqlx.Tx, tenantID int64, doc *tenants.Document, out *Applied) error {
	warn := func(format string, args ...any) {
		out.Warnings = append(out.Warnings, ApplyWarning{Index: doc.Index, Kind: doc.Kind, Name: doc.Name,
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
		refs = append(refs, tenants.StoreRef{TenantID: tenantID, Kind: tenants.KindBucket, Name: s.Name})
	}
	return refs, problems, nil
}

func (d *DB) applyOne(ctx context.Context, tx *sqlx.Tx, tenantID int64, doc *tenants.Document) (string, error) {
	switch {
	case doc.Secret != nil:
		return d.applySecret(ctx, tx, tenantID, doc.Secret)
	case doc.Git != nil:
		doc.Git.TenantID = tenantID
		return d.saveGit(ctx, tx, doc.Git, false)
	case doc.Bucket != nil:
		doc.Bucket.TenantID = tenantID
		return d.saveBucket(ctx, tx, doc.Bucket, false)
	default:
		doc.Destination.TenantID = tenantID
		return d.saveDestination(ctx, tx, doc.Destination)
	}
}

func (d *DB) applySecret(ctx context.Context, tx *sqlx.Tx, tenantID int64, s *tenants.Secret) (string, error) {
	var id int64
	err := tx.GetContext(ctx, &id, `SELECT id FROM secrets WHERE tenant_id = ? AND name = ?`, tenantID, s.Name)
	action := ActionCreated
	if err == nil {
		old, err := d.loadCredentials(ctx, tx, tenantID, ownerSecret, id)
		if err != nil {
			return "", err
		}
		if maps.Equal(old, nonEmpty(s.Data)) {
			return ActionUnchanged, nil
		}
		action = ActionUpdated
	} else if err := mapMissing(err); err != nil {
		return "", err
	}
	return action, d.saveSecret(ctx, tx, tenantID, s.Name, s.Data)
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
	return DocErrors{de}
}
