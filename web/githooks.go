package web

import (
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/stateward/stateward/forge"
	"github.com/stateward/stateward/tenants"
)

// maxGitHookBody bounds a Git host's webhook delivery: GitHub caps payloads at
// 25 MB; a pull-request or push event of a store's repository is far smaller.
const maxGitHookBody = 5 << 20

// PRPoker looks at a store's pull request now (writers.Runner).
type PRPoker interface{ PokePR(tenants.StoreRef) }

// gitHook is POST /hooks/git/{id}: a pull-request store's host says that its
// pull request (or the base branch) changed. The delivery is verified with the
// host's own scheme against the store's webhookSecret, and only wakes the look
// at the pull request: what changed is read from the host's API, never taken
// from the payload.
func (s *Server) gitHook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxGitHookBody))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.store.GitStoreByHook(r.Context(), chi.URLParam(r, "id"))
	if err == nil && st.PullRequest == nil {
		err = tenants.NotFound("pull-request store", "")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := forge.Verify(st.PullRequest.Provider, st.Credentials.WebhookSecret, r.Header, body); err != nil {
		msg := err.Error()
		if st.Credentials.WebhookSecret == "" {
			msg = "the store's Secret has no webhookSecret key: add one and give the host the same secret"
		}
		writeJSON(w, http.StatusUnauthorized, apiError{Error: msg})
		return
	}
	ev, err := forge.Parse(st.PullRequest.Provider, r.Header, body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	ref := tenants.StoreRef{TenantID: st.TenantID, Kind: tenants.KindGit, Name: st.Name}
	switch ev.Kind {
	case forge.EventPullRequest, forge.EventPush:
		if s.prs != nil {
			s.prs.PokePR(ref)
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"accepted": true, "event": ev.Kind})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"accepted": false, "event": ev.Kind})
	}
}

// gitStatus is the status of a Git store in the API: a pull-request store adds
// its pull request, its webhook URL and whether the webhook is registered.
type gitStatus struct {
	apiStatus
	PullRequest *apiStorePR `json:"pullRequest,omitempty"`
	WebhookURL  string      `json:"webhookURL,omitempty"`
	Webhook     string      `json:"webhook,omitempty"`
	PRWarning   string      `json:"pullRequestWarning,omitempty"`
	PRError     string      `json:"pullRequestError,omitempty"`
}

type apiStorePR struct {
	Number     int    `json:"number"`
	URL        string `json:"url"`
	HeadBranch string `json:"headBranch"`
}

// gitObject is a Git store as the API answers it.
func (s *Server) gitObject(g tenants.GitStateStore) map[string]any {
	m := apiObject(g.KratixObject(), g.Status)
	if g.PullRequest == nil {
		return m
	}
	st := gitStatus{apiStatus: statusJSON(g.Status), WebhookURL: s.webhookURL(g), Webhook: g.PR.Hook,
		PRWarning: g.PR.Warning, PRError: g.PR.Error}
	if g.PR.Number != 0 {
		st.PullRequest = &apiStorePR{Number: g.PR.Number, URL: g.PR.URL, HeadBranch: g.HeadBranch()}
	}
	m["status"] = st
	return m
}

// webhookURL is where the store's host delivers its webhooks.
func (s *Server) webhookURL(g tenants.GitStateStore) string {
	if g.HookID == "" {
		return ""
	}
	return tenants.WebhookURL(s.cfg.PublicURL, g.HookID)
}
