package db

import (
	"cmp"
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

type gitRow struct {
	ID          int64     `db:"id"`
	TenantID    int64     `db:"tenant_id"`
	Name        string    `db:"name"`
	URL         string    `db:"url"`
	Branch      string    `db:"branch"`
	Path        string    `db:"path"`
	SecretRef   string    `db:"secret_ref"`
	AuthMethod  string    `db:"auth_method"`
	AuthorName  string    `db:"author_name"`
	AuthorEmail string    `db:"author_email"`
	Insecure    bool      `db:"insecure"`
	CABundle    string    `db:"ca_bundle"`
	Missing     bool      `db:"secret_missing"`
	APIURL      string    `db:"github_api_url"`
	Interval    string    `db:"push_interval"`
	Fingerprint string    `db:"signing_fingerprint"`
	PullRequest string    `db:"pull_request"`
	HookID      string    `db:"hook_id"`
	PRNumber    int       `db:"pr_number"`
	PRURL       string    `db:"pr_url"`
	PRWarning   string    `db:"pr_warning"`
	PRError     string    `db:"pr_error"`
	PRHook      string    `db:"pr_hook"`
	PRBase      string    `db:"pr_base"`
	CommitMsg   string    `db:"commit_message"`
	AuthorReq   bool      `db:"author_from_requester"`
	UpdatedAt   time.Time `db:"updated_at"`
	statusCols
}

const gitCols = `id, tenant_id, name, url, branch, path, secret_ref, auth_method, author_name, author_email,
	insecure, ca_bundle, secret_missing, github_api_url, signing_fingerprint, pull_request, hook_id, pr_number, pr_url, pr_warning,
	pr_error, pr_hook, pr_base, commit_message, author_from_requester, push_interval, updated_at, ready, status_message, last_checked, write_error, write_failed_at`

func (r gitRow) domain() tenants.GitStateStore {
	return tenants.GitStateStore{ID: r.ID, TenantID: r.TenantID, Name: r.Name, URL: r.URL, Branch: r.Branch, Path: r.Path,
		SecretRef: r.SecretRef, AuthMethod: r.AuthMethod, AuthorName: r.AuthorName, AuthorEmail: r.AuthorEmail,
		Insecure: r.Insecure, CABundle: r.CABundle, SecretMissing: r.Missing, GitHubAPIURL: r.APIURL, SigningKeyFingerprint: r.Fingerprint,
		UpdatedAt: r.UpdatedAt, Status: r.statusCols.domain(), PullRequest: prSpecFrom(r.PullRequest), HookID: r.HookID,
		PR:            tenants.StorePullRequest{Number: r.PRNumber, URL: r.PRURL, Warning: r.PRWarning, Error: r.PRError, Hook: r.PRHook, Base: r.PRBase},
		CommitMessage: r.CommitMsg, AuthorFromRequester: r.AuthorReq, PushInterval: r.Interval}
}

// GitStores lists a tenant's Git stores (without credentials).
func (d *DB) GitStores(ctx context.Context, tenantID int64) ([]tenants.GitStateStore, error) {
	var rows []gitRow
	err := d.r.SelectContext(ctx, &rows, `SELECT `+gitCols+` FROM git_stores WHERE tenant_id = ? ORDER BY name`, tenantID)
	out := make([]tenants.GitStateStore, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, err
}

// GitStore finds one Git store with its credentials opened (for the writers; never
// render them).
func (d *DB) GitStore(ctx context.Context, tenantID int64, name string) (tenants.GitStateStore, error) {
	return d.findGit(ctx, d.r, tenantID, name)
}

func (d *DB) findGit(ctx context.Context, q sqlx.QueryerContext, tenantID int64, name string) (tenants.GitStateStore, error) {
	var r gitRow
	if err := sqlx.GetContext(ctx, q, &r, `SELECT `+gitCols+` FROM git_stores WHERE tenant_id = ? AND name = ?`, tenantID, name); err != nil {
		return tenants.GitStateStore{}, mapErr(err, tenants.KindGit, name)
	}
	s := r.domain()
	creds, err := d.loadCredentials(ctx, q, tenantID, ownerGit, r.ID)
	s.Credentials = gitCredsFrom(creds)
	return s, err
}

// SaveGitStore creates or updates a Git store by name. With keepSecrets, empty
// credential fields keep their stored values (a dashboard edit that leaves the
// password blank). It reports created, updated or unchanged; a changed store's
// status goes back to unknown until the next check. An update that moves where
// the store's placements live puts them back to pending in the same transaction
// (see storeMove), and Saved.Message says what will be written where.
func (d *DB) SaveGitStore(ctx context.Context, s tenants.GitStateStore, keepSecrets bool) (tenants.Saved, error) {
	var saved tenants.Saved
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, s.TenantID, true); err != nil {
			return err
		}
		var err error
		sc := s // a re-run merges blank secrets from the row it reads, not from the last run
		saved, err = d.saveGit(ctx, tx, &sc, keepSecrets)
		return err
	})
	return saved, err
}

func (d *DB) saveGit(ctx context.Context, tx *sqlx.Tx, s *tenants.GitStateStore, keepSecrets bool) (tenants.Saved, error) {
	old, err := d.findGit(ctx, tx, s.TenantID, s.Name)
	switch {
	case err == nil:
		if keepSecrets {
			if err := keptForNewEndpoint(old.CredentialEndpoint(), s.CredentialEndpoint(), keptGit(*s, old.Credentials)); err != nil {
				return tenants.Saved{}, err
			}
			if old.CredentialEndpoint() == s.CredentialEndpoint() {
				s.Credentials = mergeGitCreds(s.Credentials, old.Credentials)
			} // else stored credentials stay behind: they were entered for the old endpoint
			if err := s.Validate(); err != nil {
				return tenants.Saved{}, err // a blank field with nothing stored to keep
			}
		}
		s.ID = old.ID
		s.HookID = cmp.Or(old.HookID, newHookID())
		s.SigningKeyFingerprint = tenants.SigningKeyFingerprint(s.Credentials.SigningKey)
		if sameGit(old, *s) {
			return tenants.Saved{Action: tenants.ActionUnchanged}, nil
		}
		k := storeKey{tenants.KindGit, s.Name}
		before, err := d.liveGenerations(ctx, tx, storeScope(s.TenantID, k))
		if err != nil {
			return tenants.Saved{}, err
		}
		_, err = tx.ExecContext(ctx, `UPDATE git_stores SET url = ?, branch = ?, path = ?, secret_ref = ?, auth_method = ?,
			author_name = ?, author_email = ?, insecure = ?, ca_bundle = ?, secret_missing = ?, github_api_url = ?, signing_fingerprint = ?,
			pull_request = ?, hook_id = ?, pr_hook = '', push_interval = ?,
			updated_at = ?, ready = NULL, status_message = '', last_checked = NULL, write_error = '', write_failed_at = NULL
			WHERE tenant_id = ? AND id = ?`, s.URL, s.Branch, s.Path, s.SecretRef, s.AuthMethod, s.AuthorName, s.AuthorEmail,
			s.Insecure, s.CABundle, s.SecretMissing, s.GitHubAPIURL, s.SigningKeyFingerprint, prSpecJSON(s.PullRequest), s.HookID,
			s.PushInterval, d.now(), s.TenantID, s.ID)
		if err != nil {
			return tenants.Saved{}, err
		}
		if err := d.replaceCredentials(ctx, tx, s.TenantID, ownerGit, s.ID, gitCreds(s.Credentials)); err != nil {
			return tenants.Saved{}, err
		}
		if err := saveCommitTrail(ctx, tx, s); err != nil {
			return tenants.Saved{}, err
		}
		msg, err := d.storeUpdated(ctx, tx, s.TenantID, k, gitMove(old, *s), s.SecretRef, s.SecretMissing, before)
		return tenants.Saved{Action: tenants.ActionUpdated, Message: msg}, err
	case isNotFound(err):
		s.SigningKeyFingerprint = tenants.SigningKeyFingerprint(s.Credentials.SigningKey)
		s.HookID = newHookID()
		err = tx.GetContext(ctx, &s.ID, `INSERT INTO git_stores (tenant_id, name, url, branch, path, secret_ref, auth_method,
			author_name, author_email, insecure, ca_bundle, secret_missing, github_api_url, signing_fingerprint, pull_request, hook_id,
			push_interval, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			s.TenantID, s.Name, s.URL, s.Branch, s.Path, s.SecretRef, s.AuthMethod, s.AuthorName, s.AuthorEmail, s.Insecure,
			s.CABundle, s.SecretMissing, s.GitHubAPIURL, s.SigningKeyFingerprint, prSpecJSON(s.PullRequest), s.HookID, s.PushInterval, d.now())
		if err != nil {
			return tenants.Saved{}, mapErr(err, tenants.KindGit, s.Name)
		}
		if err := d.replaceCredentials(ctx, tx, s.TenantID, ownerGit, s.ID, gitCreds(s.Credentials)); err != nil {
			return tenants.Saved{}, err
		}
		if err := saveCommitTrail(ctx, tx, s); err != nil {
			return tenants.Saved{}, err
		}
		return tenants.Saved{Action: tenants.ActionCreated}, d.storeSaved(ctx, tx, s.TenantID, tenants.KindGit, s.Name, s.SecretRef, s.SecretMissing)
	default:
		return tenants.Saved{}, err
	}
}

// saveCommitTrail stores a Git store's commit message template and
// authorFromRequester.
func saveCommitTrail(ctx context.Context, tx *sqlx.Tx, s *tenants.GitStateStore) error {
	_, err := tx.ExecContext(ctx, `UPDATE git_stores SET commit_message = ?, author_from_requester = ? WHERE tenant_id = ? AND id = ?`,
		s.CommitMessage, s.AuthorFromRequester, s.TenantID, s.ID)
	return err
}

func sameGit(a, b tenants.GitStateStore) bool {
	a.Status, b.Status = tenants.Status{}, tenants.Status{}
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	a.ID, b.ID = 0, 0
	a.HookID, b.HookID = "", ""
	a.PR, b.PR = tenants.StorePullRequest{}, tenants.StorePullRequest{}
	if prSpecJSON(a.PullRequest) != prSpecJSON(b.PullRequest) {
		return false
	}
	a.PullRequest, b.PullRequest = nil, nil
	return a == b
}

// CreateGitStore creates a Git store, refusing (ErrConflict) a name that exists:
// the check runs in the write transaction, so two creates cannot both succeed.
func (d *DB) CreateGitStore(ctx context.Context, s tenants.GitStateStore) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, s.TenantID, true); err != nil {
			return err
		}
		if _, err := d.findGit(ctx, tx, s.TenantID, s.Name); !isNotFound(err) {
			return existsOr(err, tenants.KindGit, s.Name)
		}
		_, err := d.saveGit(ctx, tx, &s, false)
		return err
	})
}
