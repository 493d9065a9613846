package db

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

type bucketRow struct {
	ID         int64     `db:"id"`
	TenantID   int64     `db:"tenant_id"`
	Name       string    `db:"name"`
	Endpoint   string    `db:"endpoint"`
	BucketName string    `db:"bucket_name"`
	Path       string    `db:"path"`
	Insecure   bool      `db:"insecure"`
	Region     string    `db:"region"`
	SecretRef  string    `db:"secret_ref"`
	AuthMethod string    `db:"auth_method"`
	Missing    bool      `db:"secret_missing"`
	UpdatedAt  time.Time `db:"updated_at"`
	statusCols
}

const bucketCols = `id, tenant_id, name, endpoint, bucket_name, path, insecure, region, secret_ref, auth_method,
	secret_missing, updated_at, ready, status_message, last_checked, write_error, write_failed_at`

func (r bucketRow) domain() tenants.BucketStateStore {
	return tenants.BucketStateStore{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Endpoint: r.Endpoint, BucketName: r.BucketName,
		Path: r.Path, Insecure: r.Insecure, Region: r.Region, SecretRef: r.SecretRef, AuthMethod: r.AuthMethod,
		SecretMissing: r.Missing, UpdatedAt: r.UpdatedAt, Status: r.statusCols.domain()}
}

// BucketStores lists a tenant's bucket stores (without credentials).
func (d *DB) BucketStores(ctx context.Context, tenantID int64) ([]tenants.BucketStateStore, error) {
	var rows []bucketRow
	err := d.r.SelectContext(ctx, &rows, `SELECT `+bucketCols+` FROM bucket_stores WHERE tenant_id = ? ORDER BY name`, tenantID)
	out := make([]tenants.BucketStateStore, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, err
}

// BucketStore finds one bucket store with its credentials opened.
func (d *DB) BucketStore(ctx context.Context, tenantID int64, name string) (tenants.BucketStateStore, error) {
	return d.findBucket(ctx, d.r, tenantID, name)
}

func (d *DB) findBucket(ctx context.Context, q sqlx.QueryerContext, tenantID int64, name string) (tenants.BucketStateStore, error) {
	var r bucketRow
	if err := sqlx.GetContext(ctx, q, &r, `SELECT `+bucketCols+` FROM bucket_stores WHERE tenant_id = ? AND name = ?`, tenantID, name); err != nil {
		return tenants.BucketStateStore{}, mapErr(err, tenants.KindBucket, name)
	}
	s := r.domain()
	creds, err := d.loadCredentials(ctx, q, tenantID, ownerBucket, r.ID)
	s.Credentials = tenants.BucketCredentials{AccessKeyID: creds["accessKeyID"], SecretAccessKey: creds["secretAccessKey"]}
	return s, err
}

// SaveBucketStore creates or updates a bucket store by name (see SaveGitStore).
func (d *DB) SaveBucketStore(ctx context.Context, s tenants.BucketStateStore, keepSecrets bool) (tenants.Saved, error) {
	var saved tenants.Saved
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, s.TenantID, true); err != nil {
			return err
		}
		var err error
		sc := s // see SaveGitStore
		saved, err = d.saveBucket(ctx, tx, &sc, keepSecrets)
		return err
	})
	return saved, err
}

func (d *DB) saveBucket(ctx context.Context, tx *sqlx.Tx, s *tenants.BucketStateStore, keepSecrets bool) (tenants.Saved, error) {
	old, err := d.findBucket(ctx, tx, s.TenantID, s.Name)
	switch {
	case err == nil:
		if keepSecrets {
			if err := keptForNewEndpoint(old.CredentialEndpoint(), s.CredentialEndpoint(), keptBucket(*s, old.Credentials)); err != nil {
				return tenants.Saved{}, err
			}
			if old.CredentialEndpoint() == s.CredentialEndpoint() {
				s.Credentials = mergeBucketCreds(s.Credentials, old.Credentials)
			}
			if err := s.Validate(); err != nil {
				return tenants.Saved{}, err
			}
		}
		s.ID = old.ID
		if sameBucket(old, *s) {
			return tenants.Saved{Action: tenants.ActionUnchanged}, nil
		}
		k := storeKey{tenants.KindBucket, s.Name}
		before, err := d.liveGenerations(ctx, tx, storeScope(s.TenantID, k))
		if err != nil {
			return tenants.Saved{}, err
		}
		_, err = tx.ExecContext(ctx, `UPDATE bucket_stores SET endpoint = ?, bucket_name = ?, path = ?, insecure = ?, region = ?,
			secret_ref = ?, auth_method = ?, secret_missing = ?, updated_at = ?, ready = NULL, status_message = '', last_checked = NULL,
			write_error = '', write_failed_at = NULL
			WHERE tenant_id = ? AND id = ?`, s.Endpoint, s.BucketName, s.Path, s.Insecure, s.Region, s.SecretRef, s.AuthMethod,
			s.SecretMissing, d.now(), s.TenantID, s.ID)
		if err != nil {
			return tenants.Saved{}, err
		}
		if err := d.replaceCredentials(ctx, tx, s.TenantID, ownerBucket, s.ID, bucketCreds(s.Credentials)); err != nil {
			return tenants.Saved{}, err
		}
		msg, err := d.storeUpdated(ctx, tx, s.TenantID, k, bucketMove(old, *s), s.SecretRef, s.SecretMissing, before)
		return tenants.Saved{Action: tenants.ActionUpdated, Message: msg}, err
	case isNotFound(err):
		err = tx.GetContext(ctx, &s.ID, `INSERT INTO bucket_stores (tenant_id, name, endpoint, bucket_name, path, insecure, region,
			secret_ref, auth_method, secret_missing, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			s.TenantID, s.Name, s.Endpoint, s.BucketName, s.Path, s.Insecure, s.Region, s.SecretRef, s.AuthMethod,
			s.SecretMissing, d.now())
		if err != nil {
			return tenants.Saved{}, mapErr(err, tenants.KindBucket, s.Name)
		}
		if err := d.replaceCredentials(ctx, tx, s.TenantID, ownerBucket, s.ID, bucketCreds(s.Credentials)); err != nil {
			return tenants.Saved{}, err
		}
		return tenants.Saved{Action: tenants.ActionCreated}, d.storeSaved(ctx, tx, s.TenantID, tenants.KindBucket, s.Name, s.SecretRef, s.SecretMissing)
	default:
		return tenants.Saved{}, err
	}
}

func sameBucket(a, b tenants.BucketStateStore) bool {
	a.Status, b.Status = tenants.Status{}, tenants.Status{}
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	a.ID, b.ID = 0, 0
	return a == b
}

// CreateBucketStore creates a bucket store, refusing a name that exists.
func (d *DB) CreateBucketStore(ctx context.Context, s tenants.BucketStateStore) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, s.TenantID, true); err != nil {
			return err
		}
		if _, err := d.findBucket(ctx, tx, s.TenantID, s.Name); !isNotFound(err) {
			return existsOr(err, tenants.KindBucket, s.Name)
		}
		_, err := d.saveBucket(ctx, tx, &s, false)
		return err
	})
}
