package db

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// Stored credentials are bound to the endpoint they were entered for (see
// tenants.GitStateStore.CredentialEndpoint): a store that moves to another endpoint, or a
// store that starts using a stored Secret entered for another endpoint, needs the
// credentials entered again. Otherwise an editor could point the owner's password
// at a server of their own and read it from the readiness check.

// keptForNewEndpoint refuses a dashboard edit that keeps stored secret fields
// (left blank = keep) while the endpoint changes.
func keptForNewEndpoint(from, to string, kept []string) error {
	if from == to || len(kept) == 0 {
		return nil
	}
	es := tenants.ValidationErrors{}
	for _, f := range kept {
		_ = es.Add(tenants.Invalid(f, "enter it again: the endpoint changed from %s to %s, and stored credentials are only sent where they were entered", from, to))
	}
	return es.Err()
}

// keptGit names the stored secret fields that an edit leaves blank (= keep) and
// that the store's auth method would send.
// A kept signing key counts too: moved to a server of the editor's choosing, it
// would sign whatever commits they please.
func keptGit(s tenants.GitStateStore, old tenants.GitCredentials) []string {
	n := s.Credentials
	var kept []string
	switch {
	case s.AuthMethod == tenants.AuthBasic && n.Password == "" && old.Password != "":
		kept = append(kept, "password")
	case s.AuthMethod == tenants.AuthSSH && n.SSHPrivateKey == "" && old.SSHPrivateKey != "":
		kept = append(kept, "sshPrivateKey")
	case s.AuthMethod == tenants.AuthGitHubApp && n.PrivateKey == "" && old.PrivateKey != "":
		kept = append(kept, "privateKey")
	}
	if n.SigningKey == "" && old.SigningKey != "" {
		kept = append(kept, "signingKey")
	}
	return kept
}

// keptBucket is keptGit for a bucket store.
func keptBucket(s tenants.BucketStateStore, old tenants.BucketCredentials) []string {
	var kept []string
	n := s.Credentials
	if s.AuthMethod != tenants.AuthAccessKey {
		return nil
	}
	if n.AccessKeyID == "" && old.AccessKeyID != "" {
		kept = append(kept, "accessKeyID")
	}
	if n.SecretAccessKey == "" && old.SecretAccessKey != "" {
		kept = append(kept, "secretAccessKey")
	}
	return kept
}

// secretEndpoints are the endpoints a stored Secret's values were entered for.
func secretEndpoints(ctx context.Context, tx *sqlx.Tx, tenantID int64, name string) ([]string, error) {
	var raw string
	if err := tx.GetContext(ctx, &raw, `SELECT endpoints FROM secrets WHERE tenant_id = ? AND name = ?`, tenantID, name); err != nil {
		return nil, mapMissing(err)
	}
	return splitEndpoints(raw), nil
}

func splitEndpoints(raw string) []string {
	var out []string
	for _, e := range strings.Split(raw, "\n") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// bindSecret records the endpoints a Secret applied now was entered for: those of
// the stores in the same file that use it. New values replace the old binding;
// unchanged values add to it.
func bindSecret(ctx context.Context, tx *sqlx.Tx, tenantID int64, name string, endpoints []string, replace bool) error {
	if !replace {
		old, err := secretEndpoints(ctx, tx, tenantID, name)
		if err != nil {
			return err
		}
		endpoints = append(endpoints, old...)
	}
	sort.Strings(endpoints)
	endpoints = slices.Compact(endpoints)
	_, err := tx.ExecContext(ctx, `UPDATE secrets SET endpoints = ? WHERE tenant_id = ? AND name = ?`,
		strings.Join(endpoints, "\n"), tenantID, name)
	return err
}

// storeUse is a store document's use of a Secret: its endpoint and whether its
// auth method reads credentials at all.
type storeUse struct {
	secretRef, endpoint string
	needs               bool
}

func useOf(doc *tenants.Document) (storeUse, bool) {
	switch {
	case doc.Git != nil:
		g := doc.Git
		return storeUse{g.SecretRef, g.CredentialEndpoint(), g.ReadsSecret()}, true
	case doc.Bucket != nil:
		b := doc.Bucket
		return storeUse{b.SecretRef, b.CredentialEndpoint(), b.AuthMethod == tenants.AuthAccessKey}, true
	}
	return storeUse{}, false
}

// checkSecretUse refuses a store that would send a stored Secret's values to an
// endpoint they were not entered for. The exceptions are a store that keeps its
// endpoint and the very credentials it already holds (nothing new is sent
// anywhere), and the first store to use a Secret that no store uses yet.
func checkSecretUse(ctx context.Context, tx *sqlx.Tx, tenantID int64, u storeUse, unchangedCreds bool, oldEndpoint string) error {
	if !u.needs || u.secretRef == "" {
		return nil
	}
	bound, err := secretEndpoints(ctx, tx, tenantID, u.secretRef)
	if err != nil {
		return err
	}
	if slices.Contains(bound, u.endpoint) || (unchangedCreds && oldEndpoint == u.endpoint) {
		return nil
	}
	if len(bound) == 0 {
		// A Secret applied on its own (kubectl-style, in any order) was entered for
		// no endpoint yet: its first store binds it. From then on, any other
		// endpoint needs the credentials entered again.
		return bindSecret(ctx, tx, tenantID, u.secretRef, []string{u.endpoint}, false)
	}
	return tenants.Invalid("spec.secretRef.name",
		"the credentials in Secret %q were applied for another endpoint, not %s: apply the Secret together with this store (in the same file or folder) to send them there", u.secretRef, u.endpoint)
}
