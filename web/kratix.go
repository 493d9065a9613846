package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

// apiStatus is the status block of every API object; Ready is null until the
// first check has finished. Ready and Message are the last readiness check, which
// scheduling follows. For a store, WriteError and WriteFailedAt say that its last
// write failed for a transport or authentication reason (until a write or check
// passes), and Failing is true when either the check or the last write failed.
type apiStatus struct {
	Ready         *bool   `json:"ready"`
	Message       string  `json:"message"`
	LastChecked   *string `json:"lastChecked"`
	Failing       bool    `json:"failing"`
	WriteError    string  `json:"writeError,omitempty"`
	WriteFailedAt *string `json:"writeFailedAt,omitempty"`
}

func statusJSON(st tenants.Status) apiStatus {
	out := apiStatus{Ready: st.Ready, Message: st.Message, Failing: st.Troubled(), WriteError: st.WriteError}
	if st.LastChecked != nil {
		t := st.LastChecked.UTC().Format(time.RFC3339)
		out.LastChecked = &t
	}
	if st.WriteFailedAt != nil {
		t := st.WriteFailedAt.UTC().Format(time.RFC3339)
		out.WriteFailedAt = &t
	}
	return out
}

// apiObject is a Kratix document plus Stateward's status.
func apiObject(kratix any, st tenants.Status) map[string]any {
	var m map[string]any
	b, _ := json.Marshal(kratix)
	_ = json.Unmarshal(b, &m)
	m["status"] = statusJSON(st)
	return m
}

func (s *Server) apiListGit(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.GitStores(r.Context(), principal(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]map[string]any, len(list))
	for i, g := range list {
		items[i] = s.gitObject(g)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) apiListBucket(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.BucketStores(r.Context(), principal(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]map[string]any, len(list))
	for i, b := range list {
		items[i] = apiObject(b.KratixObject(), b.Status)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) apiListDestinations(w http.ResponseWriter, r *http.Request) {
	sel, err := tenants.ParseLabelSelector("labelSelector", r.URL.Query().Get("labelSelector"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.store.Destinations(r.Context(), principal(r).Tenant.ID, sel)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]map[string]any, len(list))
	for i, d := range list {
		items[i] = apiObject(d.KratixObject(), d.Status)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) apiGetStore(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.writeStore(w, r, kind, chi.URLParam(r, "name"))
	}
}

// writeStore answers one store as GET …/{gitstatestores|bucketstatestores}/{name}.
func (s *Server) writeStore(w http.ResponseWriter, r *http.Request, kind, name string) {
	obj, err := s.storeByKind(r, kind, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch o := obj.(type) {
	case tenants.GitStateStore:
		writeJSON(w, http.StatusOK, s.gitObject(o))
	case tenants.BucketStateStore:
		writeJSON(w, http.StatusOK, apiObject(o.KratixObject(), o.Status))
	}
}

// apiCheckStore is POST …/{gitstatestores|bucketstatestores}/{name}/check: the
// readiness check runs now, and the answer is the store with its new status. A
// check that passes ends the store's backoff: its waiting writes run at once.
func (s *Server) apiCheckStore(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := authorize(r, tenants.RoleEditor); err != nil {
			s.fail(w, r, err)
			return
		}
		ref := tenants.StoreRef{TenantID: principal(r).Tenant.ID, Kind: kind, Name: chi.URLParam(r, "name")}
		if err := s.checkStore(r, ref); err != nil {
			s.fail(w, r, err)
			return
		}
		s.writeStore(w, r, kind, ref.Name)
	}
}

func (s *Server) apiDeleteStore(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := authorize(r, tenants.RoleEditor); err != nil {
			s.fail(w, r, err)
			return
		}
		tenantID, name := principal(r).Tenant.ID, chi.URLParam(r, "name")
		if r.URL.Query().Get("dropPending") != "true" {
			if err := s.store.DeleteStore(r.Context(), tenantID, kind, name); err != nil {
				s.fail(w, r, err)
				return
			}
			s.audit(r, "delete", tenants.AuditObject{Kind: kind, Name: name}, "")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		n, err := s.store.DropStore(r.Context(), tenantID, kind, name)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if n > 0 {
			s.log.Warn("store deleted with removals dropped; their files stay in the store", "tenant_id", tenantID,
				"kind", kind, "store", name, "dropped", n)
		}
		s.audit(r, "delete", tenants.AuditObject{Kind: kind, Name: name}, strconv.Itoa(n)+" pending removal(s) dropped")
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) apiGetDestination(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.Destination(r.Context(), principal(r).Tenant.ID, chi.URLParam(r, "name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiObject(d.KratixObject(), d.Status))
}

func (s *Server) apiDeleteDestination(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.DeleteDestination(r.Context(), principal(r).Tenant.ID, chi.URLParam(r, "name")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, "delete", tenants.AuditObject{Kind: tenants.KindDestination, Name: chi.URLParam(r, "name")}, "")
	s.wakeWriters()
	w.WriteHeader(http.StatusNoContent)
}

// apiApply creates or updates the stores, Secrets and Destinations of a Kratix
// YAML file: 200 with what it did per document, or 422 naming every bad document.
// ?dryRun=true does all of it and changes nothing; ?diff=true adds each
// document's changed fields; ?strict=true refuses kinds that are otherwise skipped.
func (s *Server) apiApply(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	opts, err := applyOptions(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	applied, errs, err := s.apply(r, body, opts)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, applyErrorBody(errs))
		return
	}
	warnings := applied.Warnings
	if warnings == nil {
		warnings = []tenants.ApplyWarning{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"dryRun": applied.DryRun, "results": applied.Results, "warnings": warnings})
}

// applyRequest is how to apply: the query's dryRun, diff and strict.
type applyRequest struct {
	parse tenants.ParseOptions
	apply tenants.ApplyOptions
}

func applyOptions(q url.Values) (applyRequest, error) {
	var out applyRequest
	for name, set := range map[string]*bool{"dryRun": &out.apply.DryRun, "diff": &out.apply.Diff, "strict": &out.parse.Strict} {
		switch q.Get(name) {
		case "", "false":
		case "true":
			*set = true
		default:
			return out, tenants.Invalid(name, "must be true or false, not %q", q.Get(name))
		}
	}
	return out, nil
}

type applyError struct {
	Index   int    `json:"index"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func applyErrorBody(errs []tenants.DocError) map[string]any {
	out := make([]applyError, len(errs))
	for i, e := range errs {
		out[i] = applyError{Index: e.Index, Kind: e.Kind, Name: e.Name, Field: e.Field, Message: e.Message}
	}
	return map[string]any{"error": errs[0].Error(), "field": errs[0].Field, "errors": out}
}

// apply parses, resolves Secrets, checks literal endpoints and applies in one
// transaction. Document problems come back as DocErrors; err is anything else.
// Every store saved, or released by a Secret, is checked at once. A dry run is
// the same apply rolled back, without what follows a commit: no audit entries,
// readiness checks or writers woken.
func (s *Server) apply(r *http.Request, body []byte, opts applyRequest) (tenants.Applied, []tenants.DocError, error) {
	tid := principal(r).Tenant.ID
	docs, errs := tenants.ParseKratixYAML(body, opts.parse)
	if len(errs) > 0 {
		return tenants.Applied{}, errs, nil
	}
	if len(docs) == 0 {
		return tenants.Applied{}, nil, errNoDocuments
	}
	var lookupErr error
	errs = tenants.ResolveSecrets(docs, func(name string) (tenants.Secret, bool) {
		data, ok, err := s.store.Secret(r.Context(), tid, name)
		lookupErr = errors.Join(lookupErr, err)
		return tenants.Secret{Name: name, Data: data}, ok
	})
	if lookupErr != nil {
		return tenants.Applied{}, nil, lookupErr
	}
	errs = append(errs, s.checkEndpoints(docs)...)
	if len(errs) > 0 {
		return tenants.Applied{}, errs, nil
	}
	applied, err := s.store.Apply(r.Context(), tid, docs, opts.apply)
	var des tenants.DocErrors
	if errors.As(err, &des) {
		return tenants.Applied{}, des, nil
	}
	if err != nil || applied.DryRun {
		return applied, nil, err
	}
	for _, res := range applied.Results {
		if res.Action == tenants.ActionCreated || res.Action == tenants.ActionUpdated {
			s.audit(r, applyAction(res.Action), tenants.AuditObject{Kind: res.Kind, Name: res.Name}, "applied from Kratix YAML")
		}
	}
	for _, ref := range applied.Revived {
		s.readiness.Trigger(ref)
	}
	for i, d := range docs {
		if applied.Results[i].Moved != "" {
			to := ""
			if d.Git != nil {
				to = d.Git.CredentialEndpoint()
			} else if d.Bucket != nil {
				to = d.Bucket.CredentialEndpoint()
			}
			s.logMove(r, d.Kind, d.Name, applied.Results[i].Moved, to)
		}
		switch {
		case d.Git != nil:
			s.readiness.Trigger(tenants.StoreRef{TenantID: tid, Kind: tenants.KindGit, Name: d.Name})
		case d.Bucket != nil:
			s.readiness.Trigger(tenants.StoreRef{TenantID: tid, Kind: tenants.KindBucket, Name: d.Name})
		}
	}
	s.wakeWriters()
	return applied, nil, nil
}

// errNoDocuments answers an apply with nothing in it, which is a mistake rather than
// a success that did nothing.
var errNoDocuments = tenants.Invalid("body", "no documents: send one or more Kratix YAML documents (GitStateStore, BucketStateStore, Destination, v1 Secret), separated by ---")

// checkEndpoints refuses literal link-local, metadata and (unless allowed)
// private addresses at apply time, before anything dials them.
func (s *Server) checkEndpoints(docs []tenants.Document) []tenants.DocError {
	var errs []tenants.DocError
	for _, d := range docs {
		field, host := "", ""
		switch {
		case d.Git != nil:
			field, host = "spec.url", tenants.GitHost(d.Git.URL)
			if err := s.checkLocalRepo(d.Git.URL); err != nil {
				msg := err.Error()
				if ve := (*tenants.ValidationError)(nil); errors.As(err, &ve) {
					msg = ve.Message
				}
				errs = append(errs, tenants.DocError{Index: d.Index, Kind: d.Kind, Name: d.Name, Field: field, Message: msg})
				continue
			}
		case d.Bucket != nil:
			field, host = "spec.endpoint", d.Bucket.Endpoint
		default:
			continue
		}
		if err := s.cfg.Egress.CheckLiteral(host); err != nil {
			errs = append(errs, tenants.DocError{Index: d.Index, Kind: d.Kind, Name: d.Name, Field: field, Message: err.Error()})
		}
		if d.Git == nil {
			continue
		}
		for _, api := range apiURLs(*d.Git) {
			if err := s.cfg.Egress.CheckLiteral(urlHost(api[1])); err != nil {
				errs = append(errs, tenants.DocError{Index: d.Index, Kind: d.Kind, Name: d.Name, Field: api[0], Message: err.Error()})
			}
		}
	}
	return errs
}

// urlHost is the host of a URL, "" when it has none.
func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// apiExport answers the tenant's stores and Destinations as Kratix YAML,
// credentials left out.
func (s *Server) apiExport(w http.ResponseWriter, r *http.Request) {
	out, err := s.export(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Disposition", `inline; filename="stateward-`+principal(r).Tenant.Slug+`.yaml"`)
	_, _ = w.Write(out)
}

func (s *Server) export(r *http.Request) ([]byte, error) {
	git, buckets, err := s.allStores(r)
	if err != nil {
		return nil, err
	}
	dests, err := s.store.Destinations(r.Context(), principal(r).Tenant.ID, nil)
	if err != nil {
		return nil, err
	}
	return tenants.ExportKratixYAML(git, buckets, dests)
}

func (s *Server) importPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, views.ImportPage(s.shell(r, "Import Kratix YAML", "import"), views.ImportProps{}))
}

// importYAML is the dashboard's apply: pasted text or an uploaded file.
func (s *Server) importYAML(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	body, err := importBody(r)
	if isTooLarge(err) {
		// Even the form's transport allowance is exceeded: the text cannot come back.
		s.render(w, r, http.StatusRequestEntityTooLarge, views.ImportPage(s.shell(r, "Import Kratix YAML", "import"),
			views.ImportProps{Error: tooLargeText(maxAPIBody, "one import") + " Split the file and import the parts one by one.", MaxBytes: maxAPIBody}))
		return
	}
	if err == nil && len(body) > maxAPIBody {
		s.render(w, r, http.StatusRequestEntityTooLarge, views.ImportPage(s.shell(r, "Import Kratix YAML", "import"),
			views.ImportProps{YAML: keepText(body), MaxBytes: maxAPIBody,
				Error: fmt.Sprintf("This YAML is %s, larger than %s, the limit for one import (the API's limit too). Split it and import the parts one by one.", byteSize(len(body)), byteSize(maxAPIBody))}))
		return
	}
	if err != nil {
		s.render(w, r, http.StatusUnprocessableEntity, views.ImportPage(s.shell(r, "Import Kratix YAML", "import"),
			views.ImportProps{Error: err.Error(), MaxBytes: maxAPIBody}))
		return
	}
	applied, errs, err := s.apply(r, body, applyRequest{})
	if errors.Is(err, errNoDocuments) {
		s.render(w, r, http.StatusUnprocessableEntity, views.ImportPage(s.shell(r, "Import Kratix YAML", "import"),
			views.ImportProps{Error: "No documents: " + strings.TrimPrefix(err.Error(), "body: no documents: "), YAML: keepText(body), MaxBytes: maxAPIBody}))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := importOutcome(applied, errs)
	code := http.StatusOK
	if len(errs) > 0 {
		code = http.StatusUnprocessableEntity
		// Re-show the text to fix, but never credentials: a file with a Secret
		// has to be pasted again.
		if p.YAML = keepText(body); p.YAML == "" {
			p.Error = "The file is not shown again because it contains a Secret; fix the documents below and paste it again."
		}
	}
	s.render(w, r, code, views.ImportPage(s.shell(r, "Import Kratix YAML", "import"), p))
}

// importPreview is the Import page's Preview (htmx): the import as a dry run with
// diffs, nothing changed, answered as the fragment that replaces #import-preview.
// Like the Work form's plan, problems are shown in the fragment with 200.
func (s *Server) importPreview(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	body, err := importBody(r)
	p := views.ImportProps{Preview: true}
	switch {
	case isTooLarge(err) || err == nil && len(body) > maxAPIBody:
		p.Error = tooLargeText(maxAPIBody, "one import") + " Split the file and import the parts one by one."
	case err != nil:
		p.Error = err.Error()
	default:
		applied, errs, err := s.apply(r, body, applyRequest{apply: tenants.ApplyOptions{DryRun: true, Diff: true}})
		switch {
		case errors.Is(err, errNoDocuments):
			p.Error = "No documents: " + strings.TrimPrefix(err.Error(), "body: no documents: ")
		case err != nil:
			s.fail(w, r, err)
			return
		default:
			p = importOutcome(applied, errs)
			p.Preview = true
		}
	}
	s.render(w, r, http.StatusOK, views.ImportPreview(s.shell(r, "Import Kratix YAML", "import"), p))
}

// importOutcome shows what an import did, or would do in a preview.
func importOutcome(applied tenants.Applied, errs []tenants.DocError) views.ImportProps {
	p := views.ImportProps{MaxBytes: maxAPIBody, Preview: applied.DryRun}
	for _, w := range applied.Warnings {
		p.Warnings = append(p.Warnings, views.ImportError{Index: w.Index, Kind: w.Kind, Name: w.Name, Message: w.Message})
	}
	for _, e := range errs {
		p.Errors = append(p.Errors, views.ImportError{Index: e.Index, Kind: e.Kind, Name: e.Name, Field: e.Field, Message: e.Message})
	}
	for _, res := range applied.Results {
		ir := views.ImportResult{Index: res.Index, Kind: res.Kind, Name: res.Name, Action: res.Action, Message: res.Message}
		for _, c := range res.Diff {
			ir.Diff = append(ir.Diff, views.ImportChange{Field: c.Field, Old: diffText(c.Old), New: diffText(c.New), Secret: c.Secret})
		}
		p.Results = append(p.Results, ir)
	}
	return p
}

// diffText shows one value of a FieldChange: "" when unset.
func diffText(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func importBody(r *http.Request) ([]byte, error) {
	// Parse explicitly: FormValue would hide a body over the cap as an empty field,
	// and ParseMultipartForm drops ParseForm's error for a non-multipart body.
	var err error
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		err = r.ParseMultipartForm(maxFormBody)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		return nil, err
	}
	if f, _, err := r.FormFile("file"); err == nil {
		defer f.Close()
		b, err := io.ReadAll(f)
		if len(b) > 0 || err != nil {
			return b, err
		}
	}
	text := textarea(r.FormValue("yaml"))
	if text == "" {
		return nil, errors.New("paste Kratix YAML or choose a file to upload")
	}
	return []byte(text), nil
}

// keepText is the YAML to show again in the import form — never credentials: a
// text that may hold a Secret has to be pasted again.
func keepText(body []byte) string {
	if tenants.MayHoldSecret(body) {
		return ""
	}
	return string(body)
}
