package web

import (
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

func (s *Server) destinationsPage(w http.ResponseWriter, r *http.Request) {
	p := views.DestinationsProps{Selector: r.URL.Query().Get("selector")}
	sel, err := tenants.ParseLabelSelector("selector", p.Selector)
	if err != nil {
		p.SelectorError, sel = err.Error(), nil
	}
	p.Destinations, err = s.store.Destinations(r.Context(), principal(r).Tenant.ID, sel)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, views.DestinationsPage(s.shell(r, "Destinations", "destinations"), p))
}

// destFromForm reads the Destination form; labels come as repeated
// labelKey/labelValue rows (blank rows ignored).
func destFromForm(r *http.Request, name string) (tenants.Destination, tenants.ValidationErrors) {
	_ = r.ParseForm()
	f := r.PostForm.Get
	kind, store := views.ParseStoreRef(f("spec.stateStoreRef"))
	d := tenants.Destination{TenantID: principal(r).Tenant.ID, Name: strings.TrimSpace(name), Path: f("spec.path"),
		StoreKind: kind, StoreName: store, StrictMatchLabels: f("spec.strictMatchLabels") == "true",
		Mode: f("spec.filepath.mode"), Filename: strings.TrimSpace(f("spec.filepath.filename")), Cleanup: f("spec.cleanup"),
		InitWorkloads: f("spec.initWorkloads.enabled") == "true", Labels: map[string]string{}}
	var errs tenants.ValidationErrors
	keys, values := r.PostForm["labelKey"], r.PostForm["labelValue"]
	for i, k := range keys {
		k = strings.TrimSpace(k)
		v := ""
		if i < len(values) {
			v = strings.TrimSpace(values[i])
		}
		if k == "" && v == "" {
			continue
		}
		if _, dup := d.Labels[k]; dup {
			_ = errs.Add(tenants.Invalid("metadata.labels", "label %q appears twice", k))
		}
		d.Labels[k] = v
	}
	d.Normalize()
	_ = errs.Add(d.Validate())
	return d, errs
}

func (s *Server) storeRefs(r *http.Request) ([]views.StoreRef, error) {
	git, buckets, err := s.allStores(r)
	if err != nil {
		return nil, err
	}
	var refs []views.StoreRef
	for _, g := range git {
		refs = append(refs, views.StoreRef{Kind: tenants.KindGit, Name: g.Name})
	}
	for _, b := range buckets {
		refs = append(refs, views.StoreRef{Kind: tenants.KindBucket, Name: b.Name})
	}
	return refs, nil
}

func sampleFromForm(r *http.Request) views.SampleInputs {
	f := r.PostFormValue
	sm := views.SampleInputs{Promise: f("samplePromise"), Namespace: f("sampleNamespace"), Resource: f("sampleResource"), Pipeline: f("samplePipeline")}
	if sm.Promise == "" && sm.Namespace == "" && sm.Resource == "" && r.Method == http.MethodGet {
		sm = views.SampleInputs{Promise: "redis", Namespace: "default", Resource: "my-request"}
	}
	return sm
}

func (s *Server) renderDestForm(w http.ResponseWriter, r *http.Request, code int, d tenants.Destination, edit bool, errs tenants.ValidationErrors) {
	refs, err := s.storeRefs(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sample := sampleFromForm(r)
	p := views.DestinationFormProps{Dest: d, Edit: edit, Stores: refs, Errors: errs, Sample: sample,
		ValidateURL: tenantPath(r, "destinations/validate"), PreviewURL: tenantPath(r, "destinations/preview"),
		Preview: s.preview(r, d, sample)}
	s.render(w, r, code, views.DestinationFormPage(s.shell(r, "Destination", "destinations"), p))
}

func (s *Server) destinationNew(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	d := tenants.Destination{Path: ".", InitWorkloads: true, Labels: map[string]string{}}
	d.Normalize()
	// With one store there is nothing to choose: preselect it so the preview
	// shows real paths at once.
	if refs, err := s.storeRefs(r); err == nil && len(refs) == 1 {
		d.StoreKind, d.StoreName = refs[0].Kind, refs[0].Name
	}
	s.renderDestForm(w, r, http.StatusOK, d, false, nil)
}

func (s *Server) destinationEdit(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.store.Destination(r.Context(), principal(r).Tenant.ID, chi.URLParam(r, "name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderDestForm(w, r, http.StatusOK, d, true, nil)
}

// destinationSave creates (POST /destinations) or updates (POST
// /destinations/{name}) a Destination from its form.
func (s *Server) destinationSave(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	edit := chi.URLParam(r, "name") != ""
	name := r.PostFormValue("metadata.name")
	if edit {
		name = chi.URLParam(r, "name")
		if _, err := s.store.Destination(r.Context(), principal(r).Tenant.ID, name); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	d, errs := destFromForm(r, name)
	if len(errs) == 0 {
		msg, err := s.createOrUpdateDestination(r, d, edit)
		if err == nil {
			s.audit(r, createOrUpdate(edit), tenants.AuditObject{Kind: tenants.KindDestination, Name: d.Name}, "")
			flash := "Destination " + d.Name + " saved."
			if msg != "" {
				flash = "Destination " + d.Name + " saved: " + msg + "."
			}
			s.redirect(w, r, tenantPath(r, "destinations/"+d.Name), flash)
			return
		}
		if err := errs.Add(err); err != nil && !errors.Is(err, tenants.ErrConflict) {
			s.fail(w, r, err)
			return
		} else if err != nil {
			_ = errs.Add(tenants.Invalid("metadata.name", "a Destination named %q already exists", d.Name))
		}
	}
	s.renderDestForm(w, r, http.StatusUnprocessableEntity, d, edit, errs)
}

// createOrUpdateDestination saves the form's Destination; for an update it
// returns what a path change will write where (tenants.Saved.Message).
func (s *Server) createOrUpdateDestination(r *http.Request, d tenants.Destination, edit bool) (string, error) {
	var saved tenants.Saved
	var err error
	if edit {
		saved, err = s.store.SaveDestination(r.Context(), d)
	} else {
		err = s.store.CreateDestination(r.Context(), d)
	}
	if err == nil {
		s.wakeWriters()
	}
	return saved.Message, err
}

func (s *Server) destinationValidate(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	d, errs := destFromForm(r, r.PostFormValue("metadata.name"))
	if errs.For("spec.path") == "" && d.StoreName != "" {
		if msg := s.destinationConflict(r, d); msg != "" {
			_ = errs.Add(tenants.Invalid("spec.path", "%s", msg))
		}
	}
	refs, _ := s.storeRefs(r)
	s.renderField(w, r, views.DestinationFields(views.DestinationFormProps{Dest: d, Errors: errs, Stores: refs,
		ValidateURL: tenantPath(r, "destinations/validate")}))
}

// destinationPreview re-renders the preview panel as the user types (always 200).
func (s *Server) destinationPreview(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	d, _ := destFromForm(r, r.PostFormValue("metadata.name"))
	s.render(w, r, http.StatusOK, views.PreviewPanel(s.preview(r, d, sampleFromForm(r))))
}

func (s *Server) destinationPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.Destination(r.Context(), principal(r).Tenant.ID, chi.URLParam(r, "name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.placedOn(r, d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, views.DestinationPage(s.shell(r, d.Name, "destinations"), p))
}

func (s *Server) destinationDelete(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	name := chi.URLParam(r, "name")
	if err := s.store.DeleteDestination(r.Context(), principal(r).Tenant.ID, name); err != nil {
		s.fail(w, r, err)
		return
	}
	s.wakeWriters()
	s.audit(r, "delete", tenants.AuditObject{Kind: tenants.KindDestination, Name: name}, "")
	s.redirect(w, r, tenantPath(r, "destinations"), "Destination "+name+" deleted.")
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
