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
	r.Get("/api/v1/openapi.json", s.openAPI)
	if s.cfg.DevIssuer != nil {
		r.Mount("/dev/oidc", http.StripPrefix("/dev/oidc", s.cfg.DevIssuer))
	}

	r.Post("/hooks/{token}", s.hook)

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
			r.Use(s.apiTenant)
			s.apiRoutes(r)
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

func (s *Server) apiRoutes(r chi.Router) {
	r.Get("/", s.apiTenantInfo)
	r.Get("/grouproles", s.apiGroupRoles)
	r.Put("/grouproles", s.apiSetGroupRoles)
	r.Post("/apply", s.apiApply)
	r.Get("/export", s.apiExport)
	r.Get("/gitstatestores", s.apiListGit)
	r.Get("/gitstatestores/{name}", s.apiGetStore(tenants.KindGit))
	r.Delete("/gitstatestores/{name}", s.apiDeleteStore(tenants.KindGit))
	r.Post("/gitstatestores/{name}/check", s.apiCheckStore(tenants.KindGit))
	r.Get("/bucketstatestores", s.apiListBucket)
	r.Get("/bucketstatestores/{name}", s.apiGetStore(tenants.KindBucket))
	r.Delete("/bucketstatestores/{name}", s.apiDeleteStore(tenants.KindBucket))
	r.Post("/bucketstatestores/{name}/check", s.apiCheckStore(tenants.KindBucket))
	r.Get("/destinations", s.apiListDestinations)
	r.Get("/destinations/{name}", s.apiGetDestination)
	r.Delete("/destinations/{name}", s.apiDeleteDestination)
	r.Get("/works", s.apiListWorks)
	r.Post("/works", s.apiSubmitWork)
	r.Get("/works/{id}", s.apiGetWork)
	r.Delete("/works/{id}", s.apiDeleteWork)
	r.Post("/works/{id}/retry", s.apiRetryWork)
	r.Get("/triggers", s.apiListTriggers)
	r.Post("/triggers", s.apiCreateTrigger)
	r.Get("/triggers/{id}", s.apiGetTrigger)
	r.Post("/triggers/{id}/rotate", s.apiRotateTrigger)
	r.Delete("/triggers/{id}", s.apiRevokeTrigger)
	r.Get("/audit", s.apiAudit)
}
