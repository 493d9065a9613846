package db

import (
	"cmp"

	"github.com/stateward/stateward/tenants"
)

// gitCreds are a Git store's sealed fields, named by their Secret keys.
func gitCreds(c tenants.GitCredentials) map[string]string {
	return map[string]string{"username": c.Username, "password": c.Password, "sshPrivateKey": c.SSHPrivateKey, "knownHosts": c.KnownHosts,
		"appID": c.AppID, "installationID": c.InstallationID, "privateKey": c.PrivateKey,
		"signingKey": c.SigningKey, "signingKeyPassphrase": c.SigningKeyPassphrase, "webhookSecret": c.WebhookSecret}
}

func gitCredsFrom(m map[string]string) tenants.GitCredentials {
	return tenants.GitCredentials{Username: m["username"], Password: m["password"], SSHPrivateKey: m["sshPrivateKey"], KnownHosts: m["knownHosts"],
		AppID: m["appID"], InstallationID: m["installationID"], PrivateKey: m["privateKey"],
		SigningKey: m["signingKey"], SigningKeyPassphrase: m["signingKeyPassphrase"], WebhookSecret: m["webhookSecret"]}
}

func mergeGitCreds(n, old tenants.GitCredentials) tenants.GitCredentials {
	if n.Username == "" {
		n.Username = old.Username
	}
	if n.Password == "" {
		n.Password = old.Password
	}
	if n.SSHPrivateKey == "" {
		n.SSHPrivateKey = old.SSHPrivateKey
	}
	if n.KnownHosts == "" {
		n.KnownHosts = old.KnownHosts
	}
	if n.AppID == "" {
		n.AppID = old.AppID
	}
	if n.InstallationID == "" {
		n.InstallationID = old.InstallationID
	}
	if n.PrivateKey == "" {
		n.PrivateKey = old.PrivateKey
	}
	if n.WebhookSecret == "" {
		n.WebhookSecret = old.WebhookSecret
	}
	if n.SigningKey == "" {
		n.SigningKey, n.SigningKeyPassphrase = old.SigningKey, cmp.Or(n.SigningKeyPassphrase, old.SigningKeyPassphrase)
	}
	return n
}

// mergeBucketCreds keeps each blank field's stored value (a dashboard edit leaves
// secrets blank unless they change).
func mergeBucketCreds(n, old tenants.BucketCredentials) tenants.BucketCredentials {
	if n.AccessKeyID == "" {
		n.AccessKeyID = old.AccessKeyID
	}
	if n.SecretAccessKey == "" {
		n.SecretAccessKey = old.SecretAccessKey
	}
	return n
}

func bucketCreds(c tenants.BucketCredentials) map[string]string {
	return map[string]string{"accessKeyID": c.AccessKeyID, "secretAccessKey": c.SecretAccessKey}
}
