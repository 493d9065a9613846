package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/stateward/stateward/static"
	"github.com/stateward/stateward/tenants"
)

// routes is the sitemap.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.metrics.instrument)

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Method(http.MethodGet, "/metrics", s.metrics.handler(s.cfg.MetricsToken))
	r.Method(http.MethodGet, "/static/*", http.StripPrefix("/static/", static.Handler()))
	r.Get("/favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, static.URL("favicon.svg"), http.StatusMovedPermanently)
	})
	r.With(s.query()).Get("/api/v1/openapi.json", s.openAPI)
	if s.cfg.DevIssuer != nil {
		r.Mount("/dev/oidc", http.StripPrefix("/dev/oidc", s.cfg.DevIssuer))
	}

	// A YAML body names its file with the query (see yamlWorkRequest).
	r.With(s.query("promise", "namespace", "name", "pipeline", "file", "delete", "selector")).Post("/hooks/{token}", s.hook)
	r.With(s.query()).Post("/hooks/git/{id}", s.gitHook)

	r.Group(func(r chi.Router) {
		r.Use(s.withUser)
		r.Get("/", s.home)
		r.Get("/login", s.login)
		r.Get("/auth/callback", s.callback)
		r.Post("/logout", s.logout)

		r.Group(func(r chi.Router) {
			r.Use(s.requireUser)
			r.Get("/teams/new", s.teamNew)
			r.Post("/teams", s.teamCreate)
			r.Post("/teams/validate", s.teamValidate)
			r.Get("/cli/login", s.cliLogin)
			r.Post("/cli/login", s.cliLoginConfirm)
			r.Route("/t/{tenant}", func(r chi.Router) {
				r.Use(s.dashboardTenant)
				s.dashboardRoutes(r)
			})
		})

		r.Route("/api/v1/tenants/{tenant}", func(r chi.Router) {
			// A submit checks its token in its own transaction when the team
			// is known (apiSubmitAuth): one round trip to the database less.
			r.With(s.apiSubmitAuth, s.query("dryRun", "diff")).Post("/works", s.apiSubmitWork)
			r.Group(func(r chi.Router) {
				r.Use(s.apiTenant)
				s.apiRoutes(r)
			})
		})
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errNoRoute)
	})
	return r
}

func (s *Server) dashboardRoutes(r chi.Router) {
	r.Get("/", s.overview)
	r.Get("/members", s.members)
	r.Post("/members", s.memberAdd)
	r.Post("/members/role", s.memberRole)
	r.Post("/members/remove", s.memberRemove)
	r.Get("/tokens", s.tokens)
	r.Post("/tokens", s.tokenCreate)
	r.Post("/tokens/{id}/revoke", s.tokenRevoke)
	r.Get("/settings", s.settings)
	r.Post("/settings", s.settingsSave)

	r.Get("/stores", s.storesPage)
	r.Get("/stores/new", s.storeNew)
	r.Post("/stores/{kind}", s.storeSave)
	r.Post("/stores/{kind}/validate", s.storeValidate)
	r.Get("/stores/{kind}/{name}", s.storePage)
	r.Post("/stores/{kind}/{name}", s.storeSave)
	r.Get("/stores/{kind}/{name}/edit", s.storeEdit)
	r.Get("/stores/{kind}/{name}/status", s.storeStatus)
	r.Post("/stores/{kind}/{name}/check", s.storeCheck)
	r.Post("/stores/{kind}/{name}/retry", s.storeRetry)
	r.Post("/stores/{kind}/{name}/delete", s.storeDelete)

	r.Get("/destinations", s.destinationsPage)
	r.Get("/destinations/new", s.destinationNew)
	r.Post("/destinations", s.destinationSave)
	r.Post("/destinations/validate", s.destinationValidate)
	r.Post("/destinations/preview", s.destinationPreview)
	r.Get("/destinations/{name}", s.destinationPage)
	r.Post("/destinations/{name}", s.destinationSave)
	r.Get("/destinations/{name}/edit", s.destinationEdit)
	r.Post("/destinations/{name}/delete", s.destinationDelete)

	r.Get("/import", s.importPage)
	r.Post("/import", s.importYAML)
	r.Post("/import/preview", s.importPreview)

	r.Get("/works", s.worksPage)
	r.Get("/works/new", s.workNew)
	r.Post("/works", s.workSubmit)
	r.Post("/works/plan", s.workPlan)
	r.Get("/works/{id}", s.workPage)
	r.Get("/works/{id}/placements", s.workPlacements)
	r.Post("/works/{id}/retry", s.workRetry)
	r.Post("/works/{id}/rewrite", s.workRewrite)
	r.Post("/works/{id}/delete", s.workDelete)

	r.Get("/audit", s.auditPage)

	r.Get("/triggers", s.triggersPage)
	r.Post("/triggers", s.triggerCreate)
	r.Get("/triggers/{id}", s.triggerPage)
	r.Post("/triggers/{id}/rotate", s.triggerRotate)
	r.Post("/triggers/{id}/revoke", s.triggerRevoke)
}

// apiRoutes are the JSON API; each route lists the query parameters it documents
// (README), and any other one is refused with 400.
func (s *Server) apiRoutes(r chi.Router) {
	none := s.query()
	r.With(none).Get("/", s.apiTenantInfo)
	r.With(none).Get("/grouproles", s.apiGroupRoles)
	r.With(none).Put("/grouproles", s.apiSetGroupRoles)
	r.With(s.query("dryRun", "diff", "strict")).Post("/apply", s.apiApply)
	r.With(none).Get("/export", s.apiExport)
	r.With(none).Get("/gitstatestores", s.apiListGit)
	r.With(none).Get("/gitstatestores/{name}", s.apiGetStore(tenants.KindGit))
	r.With(s.query("dropPending")).Delete("/gitstatestores/{name}", s.apiDeleteStore(tenants.KindGit))
	r.With(none).Post("/gitstatestores/{name}/check", s.apiCheckStore(tenants.KindGit))
	r.With(none).Get("/bucketstatestores", s.apiListBucket)
	r.With(none).Get("/bucketstatestores/{name}", s.apiGetStore(tenants.KindBucket))
	r.With(s.query("dropPending")).Delete("/bucketstatestores/{name}", s.apiDeleteStore(tenants.KindBucket))
	r.With(none).Post("/bucketstatestores/{name}/check", s.apiCheckStore(tenants.KindBucket))
	r.With(s.query("labelSelector")).Get("/destinations", s.apiListDestinations)
	r.With(none).Get("/destinations/{name}", s.apiGetDestination)
	r.With(none).Delete("/destinations/{name}", s.apiDeleteDestination)
	r.With(s.query("q", "state", "destination", "trigger", "limit", "before")).Get("/works", s.apiListWorks)
	r.With(none).Get("/works/{id}", s.apiGetWork)
	r.With(none).Delete("/works/{id}", s.apiDeleteWork)
	r.With(none).Post("/works/{id}/retry", s.apiRetryWork)
	r.With(none).Get("/triggers", s.apiListTriggers)
	r.With(none).Post("/triggers", s.apiCreateTrigger)
	r.With(none).Get("/triggers/{id}", s.apiGetTrigger)
	r.With(none).Post("/triggers/{id}/rotate", s.apiRotateTrigger)
	r.With(none).Delete("/triggers/{id}", s.apiRevokeTrigger)
	r.With(s.query("before", "limit", "kind", "id")).Get("/audit", s.apiAudit)
}
