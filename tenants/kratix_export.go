package tenants

import (
	"bytes"
	"fmt"
	"sort"

	"sigs.k8s.io/yaml"
)

const exportHeader = `# Exported by Stateward. Credentials are never exported: create the Secret each
# secretRef names (basicAuth: username, password; ssh: sshPrivateKey, knownHosts;
# githubApp: appID, installationID, privateKey; accessKey: accessKeyID,
# secretAccessKey; commit signing: signingKey, signingKeyPassphrase).
# GitStateStore insecure/caBundle/githubAPIURL and BucketStateStore region, when
# present, are Stateward extensions unknown to Kratix.
`

const legacyComment = `# filepath.mode "legacy" is a Stateward extension: Kratix itself has no "legacy"
# mode. Stateward writes the layout the Kratix Destination docs page shows
# (<store path>/<destination path>/<destination name>/dependencies|resources/...).
# On a Kratix cluster use mode nestedByMetadata instead.
`

// ExportKratixYAML writes stores and Destinations as multi-document Kratix YAML, in a
// stable order: GitStateStores, then BucketStateStores, then Destinations, each by
// name. Credentials are never included (the secretRef is); every Kratix field is
// written at its value even when it is the default, so the file says exactly what
// Stateward does. A Destination in mode legacy gets a comment explaining that Kratix
// has no such mode.
func ExportKratixYAML(git []GitStateStore, buckets []BucketStateStore, dests []Destination) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(exportHeader)
	for _, g := range sortedBy(git, func(s GitStateStore) string { return s.Name }) {
		if err := writeDoc(&buf, "", gitObject(g)); err != nil {
			return nil, err
		}
	}
	for _, b := range sortedBy(buckets, func(s BucketStateStore) string { return s.Name }) {
		if err := writeDoc(&buf, "", bucketObject(b)); err != nil {
			return nil, err
		}
	}
	for _, d := range sortedBy(dests, func(d Destination) string { return d.Name }) {
		comment := ""
		if d.Mode == ModeLegacy {
			comment = legacyComment
		}
		if err := writeDoc(&buf, comment, destinationObject(d)); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

func sortedBy[T any](items []T, key func(T) string) []T {
	out := append([]T(nil), items...)
	sort.SliceStable(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out
}

func writeDoc(buf *bytes.Buffer, comment string, obj any) error {
	y, err := yaml.Marshal(obj)
	if err != nil {
		return fmt.Errorf("exporting Kratix YAML: %w", err)
	}
	buf.WriteString("---\n")
	buf.WriteString(comment)
	buf.Write(y)
	return nil
}

func exportSecretRef(name string) *kSecretRef {
	if name == "" {
		return nil
	}
	return &kSecretRef{Name: name}
}

// The exporters normalize a copy first so that defaults are written explicitly.

func gitObject(g GitStateStore) kObject[kGitSpec] {
	g.Normalize()
	return kObject[kGitSpec]{
		APIVersion: KratixAPIVersion, Kind: KindGit, Metadata: kMeta{Name: g.Name},
		Spec: kGitSpec{
			URL: g.URL, Branch: g.Branch, Path: g.Path, SecretRef: exportSecretRef(g.SecretRef),
			AuthMethod: g.AuthMethod, GitAuthor: &kGitAuthor{Name: g.AuthorName, Email: g.AuthorEmail},
			Insecure: g.Insecure, CABundle: g.CABundle, GitHubAPIURL: g.GitHubAPIURL, PullRequest: g.PullRequest,
			CommitMessage: g.CommitMessage, AuthorFromRequester: g.AuthorFromRequester,
			PushInterval: g.PushInterval,
		},
	}
}

func bucketObject(b BucketStateStore) kObject[kBucketSpec] {
	b.Normalize()
	return kObject[kBucketSpec]{
		APIVersion: KratixAPIVersion, Kind: KindBucket, Metadata: kMeta{Name: b.Name},
		Spec: kBucketSpec{
			Endpoint: b.Endpoint, BucketName: b.BucketName, Path: b.Path, Insecure: b.Insecure,
			SecretRef: exportSecretRef(b.SecretRef), AuthMethod: b.AuthMethod, Region: b.Region,
		},
	}
}

func destinationObject(d Destination) kObject[kDestinationSpec] {
	d.Normalize()
	enabled := d.InitWorkloads
	return kObject[kDestinationSpec]{
		APIVersion: KratixAPIVersion, Kind: KindDestination,
		Metadata: kMeta{Name: d.Name, Labels: d.Labels},
		Spec: kDestinationSpec{
			Path:              d.Path,
			StateStoreRef:     kStoreRef{Kind: d.StoreKind, Name: d.StoreName},
			StrictMatchLabels: d.StrictMatchLabels,
			Filepath:          kFilepath{Mode: d.Mode, Filename: d.Filename},
			Cleanup:           d.Cleanup,
			InitWorkloads:     &kInitWorkloads{Enabled: &enabled},
		},
	}
}

// KratixObject is the store as its Kratix document (apiVersion, kind, metadata,
// spec), credentials omitted: the JSON API's object shape.
func (s GitStateStore) KratixObject() any { return gitObject(s) }

// KratixObject is the store as its Kratix document, credentials omitted.
func (s BucketStateStore) KratixObject() any { return bucketObject(s) }

// KratixObject is the Destination as its Kratix document.
func (d Destination) KratixObject() any { return destinationObject(d) }
