package web

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// Works is what the web layer needs from the write engine's tables.
type Works interface {
	SubmitWork(ctx context.Context, tenantID int64, w *tenants.Work, dryRun bool) (tenants.SubmitResult, error)
	SubmitWorkAs(ctx context.Context, tenantID int64, w *tenants.Work, actor tenants.Actor, action string) (tenants.SubmitResult, error)
	// SubmitWorkWithToken is SubmitWorkAs for the token whose secret is
	// given, checked in the same transaction (see db.SubmitWorkWithToken).
	SubmitWorkWithToken(ctx context.Context, tenantID int64, slug string, w *tenants.Work, secret string,
		need tenants.Role, action string) (tenants.SubmitResult, error)
	PlanWrites(ctx context.Context, tenantID int64, w *tenants.Work) (tenants.SubmitResult, []tenants.PlannedWrite, error)
	DeleteWorkAs(ctx context.Context, tenantID, id int64, actor tenants.Actor) (tenants.SubmitResult, error)
	Work(ctx context.Context, tenantID, id int64) (tenants.WorkView, error)
	WorksPage(ctx context.Context, tenantID int64, q db.WorkQuery) (db.WorkPage, error)
	WaitingWorks(ctx context.Context, tenantID int64, limit int) ([]tenants.WaitingWork, int, error)
	DestinationPlacements(ctx context.Context, tenantID int64, destination string, limit, recent int) (page, latest []tenants.PlacementView, total int, err error)
	RecentPlacements(ctx context.Context, tenantID int64, limit int) ([]tenants.PlacementView, error)
	PlacementCounts(ctx context.Context, tenantID int64, since time.Time) (waiting, failed int, err error)
	RetryWork(ctx context.Context, tenantID, id int64, actor tenants.Actor) (int, error)
	RetryStore(ctx context.Context, tenantID int64, kind, name string) (int, error)
	StoreRetrying(ctx context.Context, tenantID int64, kind, name string) (tenants.StoreRetry, bool, error)
	// PRStores and PRStore are a tenant's pull-request stores with their open
	// pull request and proposed and rejected placements counted;
	// RejectedPlacements counts the tenant's rejected placements.
	PRStores(ctx context.Context, tenantID int64) ([]tenants.PRStoreView, error)
	PRStore(ctx context.Context, tenantID int64, name string) (tenants.PRStoreView, error)
	RejectedPlacements(ctx context.Context, tenantID int64) (int, error)
	SubmitHookWork(ctx context.Context, tenantID int64, w *tenants.Work, del tenants.Delivery, idem *tenants.HookIdempotency,
		sig *tenants.SignedDelivery, answer func(tenants.SubmitResult) []byte) (tenants.SubmitResult, []byte, error)
}

// apiSubmitWork is POST …/works: 202 with the plan and job ids, or with
// ?dryRun=true 200 with the same shape, nothing written; with &diff=true as well,
// each placement also says what it would add, change and remove in its store.
func (s *Server) apiSubmitWork(w http.ResponseWriter, r *http.Request) {
	secret, pending := pendingToken(r) // checked by the submit's transaction
	if !pending {
		if err := authorize(r, tenants.RoleEditor); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	// refuse answers a request that does not reach the transaction: with a
	// pending token, the token's own answer first.
	refuse := func(err error) {
		if pending {
			if terr := s.checkPendingToken(r, secret, tenants.RoleEditor); terr != nil {
				err = terr
			}
		}
		s.fail(w, r, err)
	}
	req, err := tenants.DecodeWorkRequest(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		refuse(err)
		return
	}
	work, err := req.Work()
	if err != nil {
		refuse(err)
		return
	}
	dry := r.URL.Query().Get("dryRun") == "true"
	if dry && r.URL.Query().Get("diff") == "true" {
		s.apiDiffWork(w, r, work)
		return
	}
	if dry {
		res, err := s.works.SubmitWork(r.Context(), principal(r).Tenant.ID, work, true)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
		return
	}
	work.CorrelationID = correlationID(r)
	var res tenants.SubmitResult
	if pending {
		t := principal(r).Tenant
		res, err = s.works.SubmitWorkWithToken(r.Context(), t.ID, t.Slug, work, secret, tenants.RoleEditor, tenants.WorkAction(work))
	} else {
		res, err = s.works.SubmitWorkAs(r.Context(), principal(r).Tenant.ID, work, tenants.ActorOf(principal(r)), tenants.WorkAction(work))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.wakeWriters()
	writeJSON(w, http.StatusAccepted, res)
}

// correlationID is what ties a submitted Work to the request that sent it: the
// request's Idempotency-Key, else its X-Request-Id (at most 255 characters,
// printable ASCII; anything else is not kept).
func correlationID(r *http.Request) string {
	for _, h := range []string{"Idempotency-Key", "X-Request-Id"} {
		v := strings.TrimSpace(r.Header.Get(h))
		if v != "" && len(v) <= maxIdempotencyKey && printableASCII(v) {
			return v
		}
	}
	return ""
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func workID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, tenants.NotFound("Work", chi.URLParam(r, "id"))
	}
	return id, nil
}

// apiGetWork is GET …/works/{id}: the Work and its placements.
func (s *Server) apiGetWork(w http.ResponseWriter, r *http.Request) {
	id, err := workID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.works.Work(r.Context(), principal(r).Tenant.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// apiRetryWork is POST …/works/{id}/retry: the Work's retrying and failed
// placements go back to pending and their stores' jobs are due now; the answer is
// the Work as GET answers it.
func (s *Server) apiRetryWork(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := workID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tid := principal(r).Tenant.ID
	if _, err := s.works.RetryWork(r.Context(), tid, id, tenants.ActorOf(principal(r))); err != nil {
		s.fail(w, r, err)
		return
	}
	s.wakeWriters()
	v, err := s.works.Work(r.Context(), tid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// apiListWorks is GET …/works: {"items", "total", "next"}, most recently updated
// first, with the list's search and filters (?q, state, destination, trigger).
// Without ?limit every matching Work is answered; with it, one page, and ?before=
// <next> the one after.
func (s *Server) apiListWorks(w http.ResponseWriter, r *http.Request) {
	q, err := workQuery(r, math.MaxInt32)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, err := s.works.WorksPage(r.Context(), principal(r).Tenant.ID, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// apiDeleteWork is DELETE …/works/{id}: its files are removed (202).
func (s *Server) apiDeleteWork(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := workID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.deleteWork(r, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.wakeWriters()
	writeJSON(w, http.StatusAccepted, res)
}

// deleteWork deletes a Work and records who did, in one transaction.
func (s *Server) deleteWork(r *http.Request, id int64) (tenants.SubmitResult, error) {
	return s.works.DeleteWorkAs(r.Context(), principal(r).Tenant.ID, id, tenants.ActorOf(principal(r)))
}
