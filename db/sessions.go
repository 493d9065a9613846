package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// CreateSession starts a new session for a user (a fresh id at every login, so a
// session id planted before login is worthless) and returns its secret id.
func (d *DB) CreateSession(ctx context.Context, userID int64) (string, error) {
	id, hash := tenants.NewSecret()
	now := d.now()
	_, err := d.w.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at) VALUES (?, ?, ?, ?)`,
		hash, userID, now, now)
	return id, err
}

// SessionUser returns the user of a live session, refreshing its idle timer at most
// once a minute. An unknown or expired session is ErrUnauthenticated, and so is the
// session of someone whose IdP groups grant a role and were read more than
// GroupAccessTTL ago: the sign-in that follows reads them again.
func (d *DB) SessionUser(ctx context.Context, id string) (tenants.User, error) {
	now := d.now()
	var s struct {
		UserID   int64     `db:"user_id"`
		Created  time.Time `db:"created_at"`
		LastSeen time.Time `db:"last_seen_at"`
	}
	hash := tenants.HashSecret(id)
	err := d.r.GetContext(ctx, &s, `SELECT user_id, created_at, last_seen_at FROM sessions WHERE id_hash = ?`, hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return tenants.User{}, err // an outage is not a sign-out
	}
	if err != nil || now.Sub(s.LastSeen) > tenants.IdleTimeout || now.Sub(s.Created) > tenants.AbsoluteTimeout {
		return tenants.User{}, tenants.ErrUnauthenticated
	}
	if stale, err := d.groupsStale(ctx, s.UserID); err != nil || stale {
		if err == nil {
			err = tenants.ErrUnauthenticated // sign in again: the IdP's groups are read anew
		}
		return tenants.User{}, err
	}
	if now.Sub(s.LastSeen) > time.Minute {
		if _, err := d.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`, now, hash); err != nil {
			return tenants.User{}, err
		}
	}
	return d.UserByID(ctx, s.UserID)
}

// DeleteSession ends a session (logout).
func (d *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := d.w.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, tenants.HashSecret(id))
	return err
}

// SetFlash stores a one-time message shown on the session's next page.
func (d *DB) SetFlash(ctx context.Context, sessionID, flash string) error {
	_, err := d.w.ExecContext(ctx, `UPDATE sessions SET flash = ? WHERE id_hash = ?`, flash, tenants.HashSecret(sessionID))
	return err
}

// TakeFlash returns and clears the session's flash message.
func (d *DB) TakeFlash(ctx context.Context, sessionID string) (string, error) {
	var flash string
	hash := tenants.HashSecret(sessionID)
	// Most pages have no flash: look with a reader before taking the writer.
	if err := d.r.GetContext(ctx, &flash, `SELECT flash FROM sessions WHERE id_hash = ?`, hash); err != nil || flash == "" {
		return "", mapMissing(err)
	}
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &flash, `SELECT flash FROM sessions WHERE id_hash = ?`, hash)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && flash == "") {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET flash = '' WHERE id_hash = ?`, hash)
		return err
	})
	return flash, err
}

// SaveLoginAttempt records state (hashed), nonce and PKCE verifier of a login redirect.
func (d *DB) SaveLoginAttempt(ctx context.Context, state string, a tenants.LoginAttempt) error {
	now := d.now()
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_attempts WHERE created_at < ?`, now.Add(-tenants.LoginAttemptTTL)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO login_attempts (state_hash, nonce, verifier, return_to, browser_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			tenants.HashSecret(state), a.Nonce, a.Verifier, a.ReturnTo, tenants.HashSecret(a.Browser), now)
		return err
	})
}

// TakeLoginAttempt returns and deletes the attempt for state: each state is good
// once, and only for LoginAttemptTTL. Unknown or replayed → ErrUnauthenticated.
// The returned Browser is the stored hash (compare with HashSecret of the cookie).
func (d *DB) TakeLoginAttempt(ctx context.Context, state string) (tenants.LoginAttempt, error) {
	var a loginAttemptRow
	err := d.w.GetContext(ctx, &a, `DELETE FROM login_attempts WHERE state_hash = ? AND created_at >= ?
		RETURNING nonce, verifier, return_to, browser_hash`, tenants.HashSecret(state), d.now().Add(-tenants.LoginAttemptTTL))
	if err != nil {
		return tenants.LoginAttempt{}, tenants.ErrUnauthenticated
	}
	return tenants.LoginAttempt(a), nil
}

// loginAttemptRow is a row of login_attempts.
type loginAttemptRow struct {
	Nonce    string `db:"nonce"`
	Verifier string `db:"verifier"`
	ReturnTo string `db:"return_to"`
	Browser  string `db:"browser_hash"`
}
