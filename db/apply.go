package db

import (
	"context"
	"errors"
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

// Apply creates or updates every document by name in one transaction: Secrets
// first, then stores, then Destinations (which refer to stores). Any refusal rolls
// the whole file back and comes back as DocErrors naming the document and field.
func (d *DB) Apply(ctx context.Context, tenantID int64, docs []tenants.Document) ([]ApplyResult, error) {
	results := make([]ApplyResult, len(docs))
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, tenantID, true); err != nil {
			return err
		}
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
				results[i] = ApplyResult{Index: docs[i].Index, Kind: docs[i].Kind, Name: docs[i].Name, Action: action}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
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
