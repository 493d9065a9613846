package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

// overview is a team's front page: store health, counts, what needs attention.
func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	ctx, tid := r.Context(), principal(r).Tenant.ID
	git, buckets, err := s.allStores(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	dests, err := s.store.Destinations(ctx, tid, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := views.OverviewProps{Destinations: len(dests)}
	// A store whose last write failed (transport, credentials) counts as not
	// ready at once, whatever its last check said.
	count := func(kind, name string, st tenants.Status) {
		switch {
		case st.WriteFailing():
			p.StoresNotReady++
			p.Attention = append(p.Attention, views.AttentionItem{Kind: kind, Name: name, Message: "writes failing: " + st.WriteError,
				At: st.WriteFailedAt})
		case !st.Known():
			p.StoresUnknown++
		case *st.Ready:
			p.StoresReady++
		default:
			p.StoresNotReady++
			p.Attention = append(p.Attention, views.AttentionItem{Kind: kind, Name: name, Message: st.Message, At: st.LastChecked})
		}
	}
	for _, g := range git {
		count(tenants.KindGit, g.Name, g.Status)
	}
	for _, b := range buckets {
		count(tenants.KindBucket, b.Name, b.Status)
	}
	recent, err := s.works.RecentPlacements(ctx, tid, 200)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	dayAgo := s.now().Add(-24 * time.Hour)
	if p.WorksPending, p.WorksFailed24h, err = s.works.PlacementCounts(ctx, tid, dayAgo); err != nil {
		s.fail(w, r, err)
		return
	}
	if p.WorksPending > db.MaxCount {
		p.WorksPending, p.WorksPendingCapped = db.MaxCount, true
	}
	for _, pl := range recent {
		if (pl.State == tenants.StateFailed || pl.State == tenants.StateRetrying) && pl.UpdatedAt.After(dayAgo) {
			p.Attention = append(p.Attention, views.AttentionItem{Kind: "Work", Name: workName(pl), WorkID: pl.WorkID,
				Message: pl.Destination + ": " + pl.Error, At: &pl.UpdatedAt})
		}
	}
	waiting, nWaiting, err := s.works.WaitingWorks(ctx, tid, 10)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p.WorksWaiting = nWaiting
	for _, ww := range waiting {
		p.Attention = append(p.Attention, views.AttentionItem{Waiting: true, Kind: "Work", Name: ww.Name, WorkID: ww.ID,
			Message: unscheduledText(ww.Unscheduled), At: &ww.UpdatedAt})
	}
	if p.PullRequests, p.Rejected, err = s.prAttention(r); err != nil {
		s.fail(w, r, err)
		return
	}
	p.Activity = activity(recent, 15)
	s.render(w, r, http.StatusOK, views.OverviewPage(s.shell(r, "Overview", "overview"), p))
}

// unscheduledText says why a Work's groups are placed nowhere, one line each.
func unscheduledText(un []tenants.Unscheduled) string {
	lines := make([]string, len(un))
	for i, u := range un {
		lines[i] = u.Reason
		if u.Directory != "." && u.Directory != "" {
			lines[i] = u.Directory + ": " + u.Reason
		}
	}
	return strings.Join(lines, "\n")
}

// prAttention is what pull-request stores need from people: the open pull
// requests to review, the stores Stateward stopped updating (a warning), and
// how many placements were rejected.
func (s *Server) prAttention(r *http.Request) ([]tenants.PRStoreView, int, error) {
	tid := principal(r).Tenant.ID
	all, err := s.works.PRStores(r.Context(), tid)
	if err != nil {
		return nil, 0, err
	}
	var out []tenants.PRStoreView
	for _, v := range all {
		if v.Number != 0 || v.Warning != "" {
			out = append(out, v)
		}
	}
	rejected, err := s.works.RejectedPlacements(r.Context(), tid)
	return out, rejected, err
}
