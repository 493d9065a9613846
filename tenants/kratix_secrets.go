package tenants

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// decodeSecret reads a v1 Secret: `data` values are base64, `stringData` plain.
func decodeSecret(js []byte, doc *Document, es *ValidationErrors) {
	var o kSecret
	if !decodeTyped(js, &o, es) {
		return
	}
	_ = es.Add(ValidateName("metadata.name", o.Metadata.Name))
	s := &Secret{Name: o.Metadata.Name, Data: map[string]string{}}
	for _, k := range sortedKeys(o.Data) {
		field := "data[" + k + "]"
		v, err := base64.StdEncoding.DecodeString(o.Data[k])
		switch {
		case validateSecretKey(field, k, es):
			s.markInvalid(k)
		case err != nil:
			s.markInvalid(k)
			_ = es.Add(Invalid(field, "is not valid base64 (data values are base64-encoded; put plain text under stringData)"))
		default:
			s.Data[k] = string(v)
		}
	}
	for _, k := range sortedKeys(o.StringData) {
		if !validateSecretKey("stringData["+k+"]", k, es) {
			s.Data[k] = o.StringData[k]
			delete(s.invalid, k)
		}
	}
	doc.Secret = s
}

func (s *Secret) markInvalid(k string) {
	if s.invalid == nil {
		s.invalid = map[string]bool{}
	}
	s.invalid[k] = true
}

// validateSecretKey reports whether k is a bad Secret key (and says why).
func validateSecretKey(field, k string, es *ValidationErrors) bool {
	if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
		_ = es.Add(Invalid(field, "%q is not a valid key: %s", k, strings.Join(errs, "; ")))
		return true
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ResolveSecrets fills the credentials of every store in docs from the Secret its
// spec.secretRef.name names: a Secret document of the same set first, else
// existing (which may be nil), e.g. the credentials already sealed for the tenant.
// Keys: basicAuth `username` (optional) and `password`; ssh `sshPrivateKey` and
// `knownHosts`; githubApp `appID`, `installationID` and `privateKey`; bucket
// accessKey `accessKeyID` and `secretAccessKey`. Values are TrimSecret()ed. IAM
// and none need no Secret. A Git store's Secret may also hold `signingKey` (and
// `signingKeyPassphrase`): with it every commit is signed. A Git store with
// authMethod none reads its Secret for them when it names one.
//
// It then runs the store's Validate with the credentials in place and reports the
// credential problems (a missing or empty required key); the other fields were
// already reported by ParseKratixYAML. Keys whose value could not be decoded were
// reported there too and are not reported again. A Secret that does not exist at
// all is not an error, as in Kratix, where objects apply in any order: the store
// is marked SecretMissing and waits for it (the caller warns).
func ResolveSecrets(docs []Document, existing func(name string) (Secret, bool)) []DocError {
	inSet := map[string]*Secret{}
	for i := range docs {
		if s := docs[i].Secret; s != nil {
			inSet[s.Name] = s // the last of several wins, as it is applied last
		}
	}
	lookup := func(name string) (*Secret, bool) {
		if s, ok := inSet[name]; ok {
			return s, true
		}
		if existing == nil {
			return nil, false
		}
		s, ok := existing(name)
		return &s, ok
	}
	var errs []DocError
	for i := range docs {
		if t, ok := credentialTargetOf(&docs[i]); ok {
			errs = append(errs, t.resolve(&docs[i], lookup)...)
		}
	}
	return errs
}

// credentialTarget is a store whose credentials come from a Secret.
type credentialTarget struct {
	secretRef string
	method    string
	needs     bool         // the auth method reads a Secret
	fill      func(Secret) // copies the method's keys into the store
	validate  func() error
	missing   func() // marks the store as waiting for its Secret
}

func credentialTargetOf(d *Document) (credentialTarget, bool) {
	switch {
	case d.Git != nil:
		g := d.Git
		return credentialTarget{g.SecretRef, g.AuthMethod, g.ReadsSecret(),
			func(s Secret) { fillGit(g, s) }, g.Validate, func() { g.SecretMissing = true }}, true
	case d.Bucket != nil:
		b := d.Bucket
		return credentialTarget{b.SecretRef, b.AuthMethod, b.AuthMethod == AuthAccessKey,
			func(s Secret) { fillBucket(b, s) }, b.Validate, func() { b.SecretMissing = true }}, true
	}
	return credentialTarget{}, false
}

func fillGit(g *GitStateStore, s Secret) {
	switch g.AuthMethod {
	case AuthBasic:
		g.Credentials.Username = TrimSecret(s.Data["username"])
		g.Credentials.Password = TrimSecret(s.Data["password"])
	case AuthSSH:
		g.Credentials.SSHPrivateKey = TrimSecret(s.Data["sshPrivateKey"])
		g.Credentials.KnownHosts = TrimSecret(s.Data["knownHosts"])
	case AuthGitHubApp:
		g.Credentials.AppID = s.Data["appID"]
		g.Credentials.InstallationID = s.Data["installationID"]
		g.Credentials.PrivateKey = s.Data["privateKey"]
	}
	g.Credentials.SigningKey = s.Data["signingKey"]
	g.Credentials.SigningKeyPassphrase = s.Data["signingKeyPassphrase"]
	g.Credentials.WebhookSecret = s.Data["webhookSecret"]
	g.Normalize()
}

func fillBucket(b *BucketStateStore, s Secret) {
	b.Credentials.AccessKeyID = TrimSecret(s.Data["accessKeyID"])
	b.Credentials.SecretAccessKey = TrimSecret(s.Data["secretAccessKey"])
	b.Normalize()
}

func (t credentialTarget) resolve(d *Document, lookup func(string) (*Secret, bool)) []DocError {
	if !t.needs {
		return nil
	}
	docErr := func(field, format string, args ...any) DocError {
		return DocError{Index: d.Index, Kind: d.Kind, Name: d.Name, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	if t.secretRef == "" {
		keys := credentialProblems(t.validate())
		if len(keys) == 0 {
			return nil
		}
		return []DocError{docErr("spec.secretRef.name", "is required: authMethod %s reads %s from a Secret",
			t.method, strings.Join(fieldsOf(keys), " and "))}
	}
	sec, ok := lookup(t.secretRef)
	if !ok {
		t.missing()
		return nil
	}
	t.fill(*sec)
	var errs []DocError
	for _, e := range credentialProblems(t.validate()) {
		switch {
		case sec.invalid[e.Field]:
		case strings.TrimSpace(sec.Data[e.Field]) != "":
			errs = append(errs, docErr(e.Field, "in Secret %q: %s", t.secretRef, e.Message))
		default:
			errs = append(errs, docErr(e.Field, "missing or empty in Secret %q: %s", t.secretRef, e.Message))
		}
	}
	return errs
}

// credentialProblems keeps the credential fields of a Validate() result.
func credentialProblems(err error) ValidationErrors {
	var all, out ValidationErrors
	_ = all.Add(err)
	for _, e := range all {
		if credentialFields[e.Field] {
			out = append(out, e)
		}
	}
	return out
}

func fieldsOf(es ValidationErrors) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%q", e.Field)
	}
	return out
}

// MayHoldSecret reports whether a Kratix YAML (or JSON) file holds, or may hold,
// credentials, so that it is never shown back: a document whose kind is Secret in
// any spelling YAML allows (`kind: "Secret"`, `kind:\tSecret`, JSON), one with
// data or stringData at its top level, or one that does not parse and mentions
// "secret" at all.
func MayHoldSecret(b []byte) bool {
	for _, c := range splitYAML(b) {
		if isBlankYAML(c.text) {
			continue
		}
		var top map[string]any
		if err := yaml.Unmarshal(c.text, &top); err != nil {
			if bytes.Contains(bytes.ToLower(c.text), []byte("secret")) {
				return true
			}
			continue
		}
		kind, _ := top["kind"].(string)
		_, data := top["data"]
		_, stringData := top["stringData"]
		if strings.EqualFold(strings.TrimSpace(kind), "Secret") || data || stringData {
			return true
		}
	}
	return false
}
