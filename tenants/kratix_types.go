package tenants

// The Kratix v1alpha1 wire shapes, used to decode imports and to write exports.
// Fields Kratix knows are written even at their defaults; Stateward's extensions
// (GitStateStore insecure, caBundle, githubAPIURL and pushInterval, BucketStateStore region) are written only
// when set, so that an export of plain stores applies to a Kratix cluster whose
// kubectl validates fields strictly.

type kObject[S any] struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   kMeta  `json:"metadata"`
	Spec       S      `json:"spec"`
}

type kMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

type kSecretRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

type kGitAuthor struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

type kGitSpec struct {
	URL        string      `json:"url"`
	Branch     string      `json:"branch"`
	Path       string      `json:"path"`
	SecretRef  *kSecretRef `json:"secretRef,omitempty"`
	AuthMethod string      `json:"authMethod"`
	GitAuthor  *kGitAuthor `json:"gitAuthor,omitempty"`
	Insecure   bool        `json:"insecure,omitempty"` // Stateward extension: allows http://
	CABundle   string      `json:"caBundle,omitempty"` // Stateward extension: PEM roots
	// GitHubAPIURL is a Stateward extension: Kratix always asks api.github.com.
	GitHubAPIURL string `json:"githubAPIURL,omitempty"`
	// PushInterval is a Stateward extension: the least time between pushes.
	PushInterval string `json:"pushInterval,omitempty"`
	// PullRequest is a Stateward extension: writes go through a pull request.
	PullRequest *PullRequestSpec `json:"pullRequest,omitempty"`
	// CommitMessage and AuthorFromRequester are Stateward extensions: the
	// commit trail (see GitStateStore).
	CommitMessage       string `json:"commitMessage,omitempty"`
	AuthorFromRequester bool   `json:"authorFromRequester,omitempty"`
}

type kBucketSpec struct {
	Endpoint     string      `json:"endpoint"`
	BucketName   string      `json:"bucketName"`
	Path         string      `json:"path"`
	Insecure     bool        `json:"insecure"`
	SecretRef    *kSecretRef `json:"secretRef,omitempty"`
	AuthMethod   string      `json:"authMethod"`
	Region       string      `json:"region,omitempty"`       // Stateward extension
	UseDualStack bool        `json:"useDualStack,omitempty"` // accepted, ignored
}

type kStoreRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

type kFilepath struct {
	Mode     string `json:"mode"`
	Filename string `json:"filename,omitempty"`
}

type kInitWorkloads struct {
	Enabled *bool `json:"enabled,omitempty"`
}

type kDestinationSpec struct {
	Path              string          `json:"path"`
	StateStoreRef     kStoreRef       `json:"stateStoreRef"`
	StrictMatchLabels bool            `json:"strictMatchLabels"`
	Filepath          kFilepath       `json:"filepath"`
	Cleanup           string          `json:"cleanup"`
	InitWorkloads     *kInitWorkloads `json:"initWorkloads,omitempty"`
}

type kSecret struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   kMeta             `json:"metadata"`
	Data       map[string]string `json:"data,omitempty"`
	StringData map[string]string `json:"stringData,omitempty"`
}

// metadataShape accepts what kubectl output carries; only name (and labels on a
// Destination) are used.
var metadataShape = object(map[string]*shape{
	"name": stringShape, "namespace": stringShape, "labels": stringMap,
	"annotations": anyShape, "uid": anyShape, "resourceVersion": anyShape,
	"generation": anyShape, "creationTimestamp": anyShape, "managedFields": anyShape,
})

var secretRefShape = object(map[string]*shape{"name": stringShape, "namespace": stringShape})

var gitSpecShape = object(map[string]*shape{
	"url": stringShape, "branch": stringShape, "path": stringShape,
	"secretRef": secretRefShape, "authMethod": stringShape,
	"gitAuthor": object(map[string]*shape{"name": stringShape, "email": stringShape}),
	"insecure":  boolShape, "caBundle": stringShape, "githubAPIURL": stringShape,
	"commitMessage": stringShape, "authorFromRequester": boolShape,
	"pushInterval": stringShape,
	"pullRequest": object(map[string]*shape{
		"provider": stringShape, "apiURL": stringShape, "headBranch": stringShape, "merge": stringShape,
		"labels": listOf(stringShape),
	}),
})

var bucketSpecShape = object(map[string]*shape{
	"endpoint": stringShape, "bucketName": stringShape, "path": stringShape,
	"insecure": boolShape, "secretRef": secretRefShape, "authMethod": stringShape,
	"region": stringShape, "useDualStack": boolShape,
})

var destinationSpecShape = object(map[string]*shape{
	"path":              stringShape,
	"stateStoreRef":     object(map[string]*shape{"kind": stringShape, "name": stringShape}),
	"strictMatchLabels": boolShape,
	"filepath":          object(map[string]*shape{"mode": stringShape, "filename": stringShape}),
	"cleanup":           stringShape,
	"initWorkloads":     object(map[string]*shape{"enabled": boolShape}),
})

var secretShape = object(map[string]*shape{
	"apiVersion": stringShape, "kind": stringShape, "metadata": metadataShape,
	"type": stringShape, "data": stringMap, "stringData": stringMap, "immutable": boolShape,
})

func kratixShape(spec *shape) *shape {
	return object(map[string]*shape{
		"apiVersion": stringShape, "kind": stringShape, "metadata": metadataShape,
		"spec": spec, "status": anyShape,
	})
}

func secretRefName(ref *kSecretRef) string {
	if ref == nil {
		return ""
	}
	return ref.Name
}

func gitStoreFrom(o *kObject[kGitSpec]) *GitStateStore {
	s := o.Spec
	g := &GitStateStore{
		Name: o.Metadata.Name, URL: s.URL, Branch: s.Branch, Path: s.Path,
		SecretRef: secretRefName(s.SecretRef), AuthMethod: s.AuthMethod,
		Insecure: s.Insecure, CABundle: s.CABundle, GitHubAPIURL: s.GitHubAPIURL, PullRequest: s.PullRequest,
		CommitMessage: s.CommitMessage, AuthorFromRequester: s.AuthorFromRequester,
		PushInterval: s.PushInterval,
	}
	if s.GitAuthor != nil {
		g.AuthorName, g.AuthorEmail = s.GitAuthor.Name, s.GitAuthor.Email
	}
	return g
}

func bucketStoreFrom(o *kObject[kBucketSpec]) *BucketStateStore {
	s := o.Spec
	return &BucketStateStore{
		Name: o.Metadata.Name, Endpoint: s.Endpoint, BucketName: s.BucketName, Path: s.Path,
		Insecure: s.Insecure, Region: s.Region, SecretRef: secretRefName(s.SecretRef),
		AuthMethod: s.AuthMethod,
	}
}

func destinationFrom(o *kObject[kDestinationSpec]) *Destination {
	s := o.Spec
	d := &Destination{
		Name: o.Metadata.Name, Labels: o.Metadata.Labels, Path: s.Path,
		StoreKind: s.StateStoreRef.Kind, StoreName: s.StateStoreRef.Name,
		StrictMatchLabels: s.StrictMatchLabels, Mode: s.Filepath.Mode,
		Filename: s.Filepath.Filename, Cleanup: s.Cleanup,
		InitWorkloads: true, // Kratix's default when the field is absent
	}
	if s.InitWorkloads != nil && s.InitWorkloads.Enabled != nil {
		d.InitWorkloads = *s.InitWorkloads.Enabled
	}
	return d
}
