package tenants

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Kratix's API shapes are Stateward's import/export format, so a team can paste the
// YAML it already has. These are the kinds and API versions accepted.
const (
	KratixAPIVersion = "platform.kratix.io/v1alpha1"
	KindDestination  = "Destination"
	KindSecret       = "Secret"
	SecretAPIVersion = "v1"
	// MaxKratixDocuments caps one import, so a huge file gives one clear error.
	MaxKratixDocuments = 5000
)

// Document is one object of a Kratix YAML file. Exactly one of Git, Bucket,
// Destination and Secret is set when the object could be decoded; Kind and Name are
// set as far as they could be read, for error messages.
type Document struct {
	// Index is the 1-based position among the file's non-empty documents, as a
	// person counts them (comment-only documents are not counted).
	Index       int
	Kind, Name  string
	Git         *GitStateStore
	Bucket      *BucketStateStore
	Destination *Destination
	Secret      *Secret
	// Skipped says why the document is not applied (a kind Stateward does not
	// keep, or none); "" for a document that is. A skipped document has none of
	// Git, Bucket, Destination and Secret set.
	Skipped string
	// Warnings are notes on a document that is applied, e.g. that it replaces an
	// earlier document of the same kind and name.
	Warnings []string
	// SupersededBy is the index of a later document of the same kind and name,
	// which wins: this one is not applied (0 when none).
	SupersededBy int
}

// ParseOptions are how strictly ParseKratixYAML reads a file.
type ParseOptions struct {
	// Strict refuses a document whose kind Stateward does not keep (or that has
	// none) instead of skipping it with a warning.
	Strict bool
}

// Secret is a `v1 Secret` document: the credentials a store's secretRef names.
// It is never stored as such: its values are sealed into the stores that use it.
type Secret struct {
	Name string
	// Data holds the decoded values of `data` (base64 in YAML) and `stringData`
	// (plain; it wins on a key in both, as in Kubernetes).
	Data map[string]string
	// invalid are keys whose value could not be decoded (already reported), so
	// that ResolveSecrets does not report them again as missing.
	invalid map[string]bool
}

// DocError is a problem with one document of a Kratix YAML file.
type DocError struct {
	Index   int
	Kind    string
	Name    string
	Field   string // e.g. "spec.path", "data[password]"; empty for the whole document
	Message string
}

// Error implements error: `document 2 (Destination worker-1): spec.path: is required`.
func (e DocError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "document %d", e.Index)
	switch {
	case e.Kind != "" && e.Name != "":
		fmt.Fprintf(&b, " (%s %s)", e.Kind, e.Name)
	case e.Kind != "":
		fmt.Fprintf(&b, " (%s)", e.Kind)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// credentialFields are the ValidationError fields of store credentials: the
// Secret keys they come from. ParseKratixYAML leaves them to ResolveSecrets.
var credentialFields = map[string]bool{
	"username": true, "password": true, "sshPrivateKey": true, "knownHosts": true,
	"accessKeyID": true, "secretAccessKey": true, "appID": true, "installationID": true,
	"privateKey": true, "signingKey": true, "signingKeyPassphrase": true,
}

// ParseKratixYAML decodes a multi-document Kratix YAML file (`---` separated,
// comments allowed) of GitStateStore, BucketStateStore and Destination
// (platform.kratix.io/v1alpha1) and Secret (v1) objects. Decoding is strict: an
// unknown field is an error naming it, so typos are caught; metadata.namespace
// (Kratix stores were namespaced in old examples), metadata fields the API server
// sets, and status are accepted and ignored. Every object is normalized and
// validated, except the stores' credentials, which ResolveSecrets fills and checks.
// It returns a Document for every non-empty document and every problem found; the
// caller should apply nothing when there are problems.
//
// As kubectl does with a folder, a document whose kind Stateward does not keep
// (Promise, a CRD, a Work Kratix creates itself, none at all) is skipped with the
// reason in Skipped unless opts.Strict, and a second document of the same kind and
// name wins over the earlier one (SupersededBy), with a warning naming both: the
// result of applying both in order, as kubectl does, in one step.
func ParseKratixYAML(b []byte, opts ParseOptions) ([]Document, []DocError) {
	var docs []Document
	var errs []DocError
	seen := map[string]int{}
	for _, c := range splitYAML(b) {
		if isBlankYAML(c.text) {
			continue
		}
		if len(docs) == MaxKratixDocuments {
			return docs, append(errs, DocError{Index: len(docs) + 1, Message: fmt.Sprintf("too many documents: at most %d are accepted at once", MaxKratixDocuments)})
		}
		js, err := yaml.YAMLToJSONStrict(c.text)
		if err == nil && isJSONNull(js) {
			continue // empty or comment-only
		}
		doc := Document{Index: len(docs) + 1}
		if err != nil {
			errs = append(errs, DocError{Index: doc.Index, Message: yamlMessage(err, c.line)})
		} else {
			doc, errs = parseDocument(doc.Index, js, opts, errs)
			noteDuplicate(docs, &doc, seen)
		}
		docs = append(docs, doc)
	}
	return docs, errs
}

// isBlankYAML reports whether a document has nothing but blank and comment lines.
func isBlankYAML(b []byte) bool {
	for _, line := range strings.Split(string(b), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func isJSONNull(js []byte) bool { return string(bytes.TrimSpace(js)) == "null" }

// noteDuplicate makes a later document of the same kind and name as an earlier
// one win over it, with a warning naming both: applying both in order in one
// transaction, as kubectl apply does, leaves the last one; applying only the last
// one leaves the same without rewriting the object twice, so that re-applying the
// folder changes nothing. seen maps kind/name to a position in docs.
func noteDuplicate(docs []Document, doc *Document, seen map[string]int) {
	if doc.Name == "" || doc.Kind == "" || doc.Skipped != "" {
		return
	}
	key := doc.Kind + "/" + doc.Name
	if pos, dup := seen[key]; dup {
		docs[pos].SupersededBy = doc.Index
		doc.Warnings = append(doc.Warnings, fmt.Sprintf("documents %d and %d are both %s `%s`: as with kubectl, the last one wins; document %d is skipped",
			docs[pos].Index, doc.Index, doc.Kind, doc.Name, docs[pos].Index))
	}
	seen[key] = len(docs)
}

// parseDocument identifies, shape-checks, decodes, normalizes and validates one
// document.
func parseDocument(index int, js []byte, opts ParseOptions, errs []DocError) (Document, []DocError) {
	doc := Document{Index: index}
	raw, err := decodeOneJSON(js)
	obj, ok := raw.(map[string]any)
	if err != nil || !ok {
		return doc, append(errs, DocError{Index: index, Message: "must be a mapping with apiVersion, kind, metadata and spec"})
	}
	doc.Kind, _ = obj["kind"].(string)
	if meta, ok := obj["metadata"].(map[string]any); ok {
		doc.Name, _ = meta["name"].(string)
	}
	fail := func(field, format string, args ...any) (Document, []DocError) {
		return doc, append(errs, DocError{Index: index, Kind: doc.Kind, Name: doc.Name, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	k, known := kinds[doc.Kind]
	switch {
	case !known && !opts.Strict:
		doc.Skipped = skipReason(doc.Kind, doc.Name)
		return doc, errs
	case doc.Kind == "":
		return fail("kind", "is required (GitStateStore, BucketStateStore, Destination or Secret)")
	case !known:
		return fail("kind", "%q is not supported: use GitStateStore, BucketStateStore, Destination or Secret", doc.Kind)
	case obj["apiVersion"] != k.apiVersion:
		return fail("apiVersion", "must be %s for %s, not %s", k.apiVersion, doc.Kind, describe(obj["apiVersion"]))
	}
	var es ValidationErrors
	k.shape.check("", obj, &es)
	if len(es) == 0 {
		k.decode(js, &doc, &es)
	}
	for _, e := range es {
		errs = append(errs, DocError{Index: index, Kind: doc.Kind, Name: doc.Name, Field: e.Field, Message: e.Message})
	}
	return doc, errs
}

// skipReason is the warning for a document of a kind Stateward does not keep:
// "Promise `redis` skipped: Stateward does not run Promises".
func skipReason(kind, name string) string {
	what := "document"
	switch {
	case kind != "" && name != "":
		what = kind + " `" + name + "`"
	case kind != "":
		what = kind
	}
	why := "Stateward keeps only GitStateStore, BucketStateStore, Destination and v1 Secret objects"
	switch kind {
	case "":
		why = "it has no kind (" + strings.TrimSuffix(why, " objects") + ")"
	case "Promise", "PromiseRelease":
		why = "Stateward does not run Promises"
	case "Work", "WorkPlacement":
		why = "Kratix creates " + kind + "s itself; send the pipeline's output to POST …/works"
	case "HealthRecord":
		why = "Stateward does not keep health records"
	case "CustomResourceDefinition":
		why = "Stateward does not install CRDs; " + why
	}
	return what + " skipped: " + why
}

func describe(v any) string {
	if v == nil {
		return "missing"
	}
	return fmt.Sprintf("%q", fmt.Sprint(v))
}

// kindSpec is how one kind is checked and decoded.
type kindSpec struct {
	apiVersion string
	shape      *shape
	decode     func(js []byte, doc *Document, es *ValidationErrors)
}

var kinds = map[string]kindSpec{
	KindGit:         {KratixAPIVersion, kratixShape(gitSpecShape), decodeGit},
	KindBucket:      {KratixAPIVersion, kratixShape(bucketSpecShape), decodeBucket},
	KindDestination: {KratixAPIVersion, kratixShape(destinationSpecShape), decodeDestination},
	KindSecret:      {SecretAPIVersion, secretShape, decodeSecret},
}

// addValidation adds the problems of a Validate() call, without the credential
// fields when skipCredentials is set.
func addValidation(err error, skipCredentials bool, es *ValidationErrors) {
	var got ValidationErrors
	if other := got.Add(err); other != nil {
		*es = append(*es, &ValidationError{Message: other.Error()})
	}
	for _, e := range got {
		if !skipCredentials || !credentialFields[e.Field] {
			*es = append(*es, e)
		}
	}
}

func decodeGit(js []byte, doc *Document, es *ValidationErrors) {
	var o kObject[kGitSpec]
	if decodeTyped(js, &o, es) {
		doc.Git = gitStoreFrom(&o)
		doc.Git.Normalize()
		addValidation(doc.Git.Validate(), true, es)
	}
}

func decodeBucket(js []byte, doc *Document, es *ValidationErrors) {
	var o kObject[kBucketSpec]
	if decodeTyped(js, &o, es) {
		doc.Bucket = bucketStoreFrom(&o)
		doc.Bucket.Normalize()
		addValidation(doc.Bucket.Validate(), true, es)
	}
}

func decodeDestination(js []byte, doc *Document, es *ValidationErrors) {
	var o kObject[kDestinationSpec]
	if decodeTyped(js, &o, es) {
		doc.Destination = destinationFrom(&o)
		doc.Destination.Normalize()
		addValidation(doc.Destination.Validate(), false, es)
	}
}

// decodeTyped fills v from an already shape-checked document.
func decodeTyped(js []byte, v any, es *ValidationErrors) bool {
	if err := json.Unmarshal(js, v); err != nil {
		*es = append(*es, &ValidationError{Message: err.Error()})
		return false
	}
	return true
}

// yamlLine matches the line numbers in go-yaml's messages.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlMessage turns a YAML syntax error into a message whose line numbers count
// from the start of the whole file.
func yamlMessage(err error, firstLine int) string {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
		return "line " + strconv.Itoa(n+firstLine-1)
	})
	return "invalid YAML: " + strings.Join(strings.Fields(msg), " ")
}

// yamlChunk is one document's text and the file line it starts on.
type yamlChunk struct {
	text []byte
	line int
}

// splitYAML cuts a multi-document YAML stream at `---` and `...` marker lines
// (markers are only ever at the start of a line, so this never cuts inside a
// value).
func splitYAML(b []byte) []yamlChunk {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var out []yamlChunk
	cur := yamlChunk{line: 1}
	for i, line := range strings.SplitAfter(string(b), "\n") {
		marker, rest := documentMarker(line)
		if !marker {
			cur.text = append(cur.text, line...)
			continue
		}
		out = append(out, cur)
		cur = yamlChunk{line: i + 1, text: []byte(rest)}
		if strings.TrimSpace(rest) == "" {
			cur = yamlChunk{line: i + 2} // the document starts on the next line
		}
	}
	return append(out, cur)
}

// documentMarker reports whether line starts a new document and what follows the
// marker on the same line (e.g. `--- # comment`).
func documentMarker(line string) (bool, string) {
	for _, m := range []string{"---", "..."} {
		if !strings.HasPrefix(line, m) {
			continue
		}
		rest := line[len(m):]
		if strings.TrimRight(rest, "\r\n") == "" || rest[0] == ' ' || rest[0] == '\t' {
			if m == "..." {
				return true, ""
			}
			return true, strings.TrimLeft(rest, " \t")
		}
	}
	return false, ""
}
