package web

import (
	"net/http"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

// overview is a team's front page: store health, counts, what needs attention.
func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	ctx, tid := r.Context(), principal(r).Tenant.ID
	git, err := s.store.GitStores(ctx, tid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	buckets, err := s.store.BucketStores(ctx, tid)
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
	count := func(kind, name string, st tenants.Status) {
		switch {
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
	s.render(w, r, http.StatusOK, views.OverviewPage(s.shell(r, "Overview", "overview"), p))
}
