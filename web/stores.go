package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

// kindParam is the store kind named by the {kind} route segment ("git", "bucket").
func kindParam(r *http.Request) (string, error) {
	k := views.KindFromSegment(chi.URLParam(r, "kind"))
	if k == "" {
		return "", tenants.NotFound("store kind", chi.URLParam(r, "kind"))
	}
	return k, nil
}

// allStores lists the tenant's Git and bucket stores (without credentials).
func (s *Server) allStores(r *http.Request) ([]tenants.GitStateStore, []tenants.BucketStateStore, error) {
	tid := principal(r).Tenant.ID
	git, err := s.store.GitStores(r.Context(), tid)
	if err != nil {
		return nil, nil, err
	}
	buckets, err := s.store.BucketStores(r.Context(), tid)
	return git, buckets, err
}

func (s *Server) storesPage(w http.ResponseWriter, r *http.Request) {
	git, buckets, err := s.allStores(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, views.StoresPage(s.shell(r, "State Stores", "stores"), views.StoresProps{Git: git, Bucket: buckets}))
}

func gitFromForm(r *http.Request, name string) tenants.GitStateStore {
	f := r.PostFormValue
	g := tenants.GitStateStore{
		TenantID: principal(r).Tenant.ID, Name: strings.TrimSpace(name), URL: f("spec.url"), Branch: f("spec.branch"),
		Path: f("spec.path"), AuthMethod: f("spec.authMethod"), AuthorName: strings.TrimSpace(f("spec.gitAuthor.name")),
		AuthorEmail: strings.TrimSpace(f("spec.gitAuthor.email")), Insecure: f("spec.insecure") == "true",
		CABundle: strings.TrimSpace(textarea(f("spec.caBundle"))), SecretRef: f("secretRef"),
		GitHubAPIURL: f("spec.githubAPIURL"), PushInterval: f("spec.pushInterval"),
		CommitMessage: textarea(f("spec.commitMessage")), AuthorFromRequester: f("spec.authorFromRequester") == "true",
		Credentials: tenants.GitCredentials{Username: f("username"), Password: f("password"),
			SSHPrivateKey: textarea(f("sshPrivateKey")), KnownHosts: textarea(f("knownHosts")),
			AppID: f("appID"), InstallationID: f("installationID"), PrivateKey: textarea(f("privateKey")),
			SigningKey: textarea(f("signingKey")), SigningKeyPassphrase: f("signingKeyPassphrase"),
			WebhookSecret: f("webhookSecret")},
		PullRequest: prFromForm(r),
	}
	g.Normalize()
	return g
}

// prFromForm is the form's spec.pullRequest: nil when the provider is none
// (the store pushes), whatever the hidden pull-request fields hold.
func prFromForm(r *http.Request) *tenants.PullRequestSpec {
	f := r.PostFormValue
	provider := strings.TrimSpace(f("spec.pullRequest.provider"))
	if provider == "" || provider == views.PRProviderNone {
		return nil
	}
	return &tenants.PullRequestSpec{Provider: provider, APIURL: f("spec.pullRequest.apiURL"),
		Head: f("spec.pullRequest.headBranch"), Merge: f("spec.pullRequest.merge"),
		Labels: strings.Split(f("spec.pullRequest.labels"), ",")}
}

func bucketFromForm(r *http.Request, name string) tenants.BucketStateStore {
	f := r.PostFormValue
	b := tenants.BucketStateStore{
		TenantID: principal(r).Tenant.ID, Name: strings.TrimSpace(name), Endpoint: f("spec.endpoint"),
		BucketName: f("spec.bucketName"), Path: f("spec.path"), Insecure: f("spec.insecure") == "true",
		Region: f("spec.region"), AuthMethod: f("spec.authMethod"), SecretRef: f("secretRef"),
		Credentials: tenants.BucketCredentials{AccessKeyID: f("accessKeyID"), SecretAccessKey: f("secretAccessKey")},
	}
	b.Normalize()
	return b
}

// secretFields are the write-only form fields: never shown, so blank on an edit
// means "keep the current value" and is not a missing value.
var secretFields = map[string]bool{"password": true, "sshPrivateKey": true, "knownHosts": true,
	"accessKeyID": true, "secretAccessKey": true, "appID": true, "installationID": true, "privateKey": true, "signingKeyPassphrase": true}

// validateStore collects a store's validation errors (keep: an edit, where blank
// secrets are kept) and refuses a literal disallowed address in the endpoint.
func (s *Server) validateStore(err error, keep bool, field, host string) tenants.ValidationErrors {
	var all, errs tenants.ValidationErrors
	_ = all.Add(err)
	for _, e := range all {
		if !keep || !secretFields[e.Field] {
			errs = append(errs, e)
		}
	}
	if errs.For(field) == "" {
		if err := s.cfg.Egress.CheckLiteral(host); err != nil {
			_ = errs.Add(tenants.Invalid(field, "%s", err.Error()))
		}
	}
	return errs
}

func (s *Server) validateGit(g tenants.GitStateStore, keep bool) tenants.ValidationErrors {
	errs := s.validateStore(g.Validate(), keep, "spec.url", tenants.GitHost(g.URL))
	if err := s.checkLocalRepo(g.URL); err != nil && errs.For("spec.url") == "" {
		_ = errs.Add(err)
	}
	for _, api := range apiURLs(g) {
		if errs.For(api[0]) == "" {
			if err := s.cfg.Egress.CheckLiteral(urlHost(api[1])); err != nil {
				_ = errs.Add(tenants.Invalid(api[0], "%s", err.Error()))
			}
		}
	}
	return errs
}

// apiURLs are the API base URLs a Git store calls besides its repository (field,
// URL): a GitHub App's token exchange and a pull-request host's API.
func apiURLs(g tenants.GitStateStore) [][2]string {
	var out [][2]string
	if g.GitHubAPIURL != "" {
		out = append(out, [2]string{"spec.githubAPIURL", g.GitHubAPIURL})
	}
	if g.PullRequest != nil && g.PullRequest.APIURL != "" {
		out = append(out, [2]string{"spec.pullRequest.apiURL", g.PullRequest.APIURL})
	}
	return out
}

// checkLocalRepo refuses a file:// Git URL unless the deployment allows them
// (LocalRepos), and one inside the server's own files; the error is a
// ValidationError of spec.url. Other URLs are left to Validate.
func (s *Server) checkLocalRepo(raw string) error {
	if u, err := tenants.ParseGitURL(raw); err != nil || u.Form != tenants.FormFile {
		return nil
	}
	_, err := s.cfg.LocalRepos.Check(raw)
	return err
}

func (s *Server) validateBucket(b tenants.BucketStateStore, keep bool) tenants.ValidationErrors {
	return s.validateStore(b.Validate(), keep, "spec.endpoint", b.Endpoint)
}

// storeNew shows the create form of ?kind=git|bucket.
func (s *Server) storeNew(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	kind := views.KindFromSegment(r.URL.Query().Get("kind"))
	if kind == "" {
		kind = tenants.KindGit
	}
	s.renderStoreForm(w, r, http.StatusOK, kind, false, tenants.GitStateStore{Branch: "main", AuthMethod: tenants.AuthBasic},
		tenants.BucketStateStore{AuthMethod: tenants.AuthAccessKey}, nil)
}

func (s *Server) renderStoreForm(w http.ResponseWriter, r *http.Request, code int, kind string, edit bool,
	g tenants.GitStateStore, b tenants.BucketStateStore, errs tenants.ValidationErrors) {
	seg := views.KindSegment(kind)
	validate := tenantPath(r, "stores/"+seg+"/validate")
	if kind == tenants.KindGit {
		s.render(w, r, code, views.GitStoreFormPage(s.shell(r, "Git State Store", "stores"),
			views.GitStoreFormProps{Store: g, Edit: edit, Errors: errs, ValidateURL: validate}))
		return
	}
	s.render(w, r, code, views.BucketStoreFormPage(s.shell(r, "Bucket State Store", "stores"),
		views.BucketStoreFormProps{Store: b, Edit: edit, Errors: errs, ValidateURL: validate}))
}

// storeSave creates (POST /stores/{kind}) or updates (POST /stores/{kind}/{name})
// a store from its form, then checks its readiness in the background.
func (s *Server) storeSave(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	kind, err := kindParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	edit := chi.URLParam(r, "name") != ""
	name := r.PostFormValue("metadata.name")
	var before string
	if edit {
		name = chi.URLParam(r, "name")
		obj, err := s.storeByKind(r, kind, name)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		before = endpointOf(obj)
	}
	g, b := gitFromForm(r, name), bucketFromForm(r, name)
	var errs tenants.ValidationErrors
	if kind == tenants.KindGit {
		errs = s.validateGit(g, edit)
	} else {
		errs = s.validateBucket(b, edit)
	}
	if len(errs) == 0 {
		msg, err := s.saveStore(r, kind, g, b, edit)
		if err == nil {
			s.audit(r, createOrUpdate(edit), tenants.AuditObject{Kind: kind, Name: name}, "")
			after := g.CredentialEndpoint()
			if kind == tenants.KindBucket {
				after = b.CredentialEndpoint()
			}
			s.logMove(r, kind, name, before, after)
			s.readiness.Trigger(tenants.StoreRef{TenantID: principal(r).Tenant.ID, Kind: kind, Name: name})
			s.wakeWriters() // a moved store's placements are queued already
			flash := kind + " " + name + " saved; checking it now."
			if msg != "" {
				flash = kind + " " + name + " saved; checking it now: " + msg + "."
			}
			s.redirect(w, r, tenantPath(r, "stores/"+views.KindSegment(kind)+"/"+name), flash)
			return
		}
		var ves tenants.ValidationErrors
		switch {
		case errors.As(err, &ves):
			errs = ves // credentials to enter again for a new endpoint
		case errors.Is(err, tenants.ErrConflict):
			_ = errs.Add(tenants.Invalid("metadata.name", "a State Store named %q already exists", name))
		default:
			s.fail(w, r, err)
			return
		}
	}
	s.renderStoreForm(w, r, http.StatusUnprocessableEntity, kind, edit, g, b, askSecretsAgain(r, errs))
}

// askSecretsAgain adds, for every secret typed into a form that failed, a request
// to type it again: secrets are never sent back to the browser, and on an edit a
// blank secret would silently keep the old one.
func askSecretsAgain(r *http.Request, errs tenants.ValidationErrors) tenants.ValidationErrors {
	for _, name := range []string{"password", "sshPrivateKey", "knownHosts", "accessKeyID", "secretAccessKey", "webhookSecret"} {
		if strings.TrimSpace(r.PostFormValue(name)) != "" && errs.For(name) == "" {
			_ = errs.Add(tenants.Invalid(name, "was not kept: secrets are never sent back to the browser, so type it again"))
		}
	}
	return errs
}

// saveStore creates or updates the store of the form; for an update it returns
// what the update will write where (tenants.Saved.Message).
func (s *Server) saveStore(r *http.Request, kind string, g tenants.GitStateStore, b tenants.BucketStateStore, edit bool) (string, error) {
	var saved tenants.Saved
	var err error
	switch {
	case kind == tenants.KindGit && edit:
		saved, err = s.store.SaveGitStore(r.Context(), g, true)
	case kind == tenants.KindGit:
		err = s.store.CreateGitStore(r.Context(), g)
	case edit:
		saved, err = s.store.SaveBucketStore(r.Context(), b, true)
	default:
		err = s.store.CreateBucketStore(r.Context(), b)
	}
	return saved.Message, err
}

// storeValidate answers the inline validation of one store form field.
func (s *Server) storeValidate(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	kind, err := kindParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := r.PostFormValue("metadata.name")
	if kind == tenants.KindGit {
		g := gitFromForm(r, name)
		s.renderField(w, r, views.GitStoreFields(views.GitStoreFormProps{Store: g, Errors: s.validateGit(g, true),
			ValidateURL: tenantPath(r, "stores/git/validate")}))
		return
	}
	b := bucketFromForm(r, name)
	s.renderField(w, r, views.BucketStoreFields(views.BucketStoreFormProps{Store: b, Errors: s.validateBucket(b, true),
		ValidateURL: tenantPath(r, "stores/bucket/validate")}))
}

// storeByKind loads one store (credentials opened: never render them).
func (s *Server) storeByKind(r *http.Request, kind, name string) (any, error) {
	tid := principal(r).Tenant.ID
	if kind == tenants.KindGit {
		g, err := s.store.GitStore(r.Context(), tid, name)
		return g, err
	}
	b, err := s.store.BucketStore(r.Context(), tid, name)
	return b, err
}

func (s *Server) storePage(w http.ResponseWriter, r *http.Request) {
	kind, err := kindParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := chi.URLParam(r, "name")
	obj, err := s.storeByKind(r, kind, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	usedBy, err := s.store.DestinationsOn(r.Context(), principal(r).Tenant.ID, kind, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := views.StoreProps{UsedBy: usedBy, StatusURL: tenantPath(r, "stores/"+views.KindSegment(kind)+"/"+name+"/status")}
	if rt, ok, err := s.works.StoreRetrying(r.Context(), principal(r).Tenant.ID, kind, name); err != nil {
		s.fail(w, r, err)
		return
	} else if ok {
		p.Retry = &views.StoreRetry{Attempts: rt.Attempts, NextAttemptAt: rt.NextAttemptAt, LastError: rt.LastError, Placements: rt.Placements}
	}
	switch o := obj.(type) {
	case tenants.GitStateStore:
		o.Credentials = tenants.GitCredentials{}
		p.Git = &o
		if o.PullRequest != nil {
			v, err := s.works.PRStore(r.Context(), principal(r).Tenant.ID, name)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			p.PR = &views.StorePRProps{View: v, WebhookURL: s.webhookURL(o)}
		}
	case tenants.BucketStateStore:
		o.Credentials = tenants.BucketCredentials{}
		p.Bucket = &o
	}
	s.render(w, r, http.StatusOK, views.StorePage(s.shell(r, name, "stores"), p))
}

func (s *Server) storeEdit(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	kind, err := kindParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	obj, err := s.storeByKind(r, kind, chi.URLParam(r, "name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var g tenants.GitStateStore
	var b tenants.BucketStateStore
	switch o := obj.(type) {
	case tenants.GitStateStore:
		g = o
		g.Credentials = tenants.GitCredentials{Username: o.Credentials.Username}
	case tenants.BucketStateStore:
		b = o
		b.Credentials = tenants.BucketCredentials{}
	}
	s.renderStoreForm(w, r, http.StatusOK, kind, true, g, b, nil)
}

// storeStatus is the live status fragment, polled while the status is unknown.
func (s *Server) storeStatus(w http.ResponseWriter, r *http.Request) {
	kind, err := kindParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	obj, err := s.storeByKind(r, kind, chi.URLParam(r, "name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st := storeStatusOf(obj)
	url := ""
	if !st.Known() {
		url = r.URL.Path
	}
	s.render(w, r, http.StatusOK, views.StoreStatus(views.StoreStatusProps{Status: st, URL: url}))
}

func storeStatusOf(obj any) tenants.Status {
	switch o := obj.(type) {
	case tenants.GitStateStore:
		return o.Status
	case tenants.BucketStateStore:
		return o.Status
	}
	return tenants.Status{}
}

// storeCheck ("Check now") runs the readiness check at once and shows the outcome.
func (s *Server) storeCheck(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	kind, err := kindParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ref := tenants.StoreRef{TenantID: principal(r).Tenant.ID, Kind: kind, Name: chi.URLParam(r, "name")}
	if err := s.checkStore(r, ref); err != nil {
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, tenantPath(r, "stores/"+views.KindSegment(kind)+"/"+ref.Name), "Checked "+ref.Name+".")
}

// checkStore runs a store's readiness check now and records it; a check that
// passed made the store's waiting job due, so the writers are woken for it.
func (s *Server) checkStore(r *http.Request, ref tenants.StoreRef) error {
	if err := s.readiness.Check(r.Context(), ref); err != nil {
		return err
	}
	s.wakeWriters()
	return nil
}

// storeRetry ("Retry now" on a store's page) puts the store's retrying
// placements back to pending and makes its job due now.
func (s *Server) storeRetry(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	kind, err := kindParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := chi.URLParam(r, "name")
	if _, err := s.storeByKind(r, kind, name); err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.works.RetryStore(r.Context(), principal(r).Tenant.ID, kind, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.wakeWriters()
	s.redirect(w, r, tenantPath(r, "stores/"+views.KindSegment(kind)+"/"+name),
		"Retrying "+countOf(n, "placement", "placements")+" on "+name+" now.")
}

// storeDelete deletes a store; refused (with the names) while Destinations use it.
func (s *Server) storeDelete(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	kind, err := kindParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := chi.URLParam(r, "name")
	if err := s.store.DeleteStore(r.Context(), principal(r).Tenant.ID, kind, name); err != nil {
		s.formError(w, r, err, tenantPath(r, "stores/"+views.KindSegment(kind)+"/"+name))
		return
	}
	s.audit(r, "delete", tenants.AuditObject{Kind: kind, Name: name}, "")
	s.redirect(w, r, tenantPath(r, "stores"), kind+" "+name+" deleted.")
}

func endpointOf(obj any) string {
	switch o := obj.(type) {
	case tenants.GitStateStore:
		return o.CredentialEndpoint()
	case tenants.BucketStateStore:
		return o.CredentialEndpoint()
	}
	return ""
}

// logMove records who moved a store's credentials to another endpoint, in the log
// and in the audit log. The credentials were entered again, or the save was refused.
func (s *Server) logMove(r *http.Request, kind, name, from, to string) {
	if from == "" || from == to {
		return
	}
	p := principal(r)
	s.log.Info("store endpoint changed with credentials entered again", "tenant_id", p.Tenant.ID, "kind", kind,
		"store", name, "from", from, "to", to, "user_id", p.UserID, "email", p.Email, "token_id", p.Token)
	s.audit(r, "move", tenants.AuditObject{Kind: kind, Name: name}, "endpoint "+from+" → "+to+", credentials entered again")
}
