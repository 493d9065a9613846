package db_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// TestWorksSearchBounded: a search longer than MaxSearch characters or MaxSearchWords
// words is invalid input naming q and the limit, on both databases — not a SQLite
// limit surfacing as an internal error (a 60,000-byte word or 30,000 '%' passed
// the LIKE pattern limit, 500 words the expression depth limit: all answered 500)
// — and a search at the limits still answers.
func TestWorksSearchBounded(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		submit(t, d, tid, resourceWork("alpha", "dev", "x.yaml", "1"), false)
		ctx := context.Background()
		for name, tc := range map[string]struct{ q, limit string }{
			"long word":          {strings.Repeat("a", 60_000), "1000 characters"},
			"percents":           {strings.Repeat("%", 30_000), "1000 characters"},
			"one char too many":  {strings.Repeat("é", db.MaxSearch+1), "1000 characters"},
			"500 words":          {strings.Repeat("a ", 500), "20 words"},
			"one word too many":  {strings.Repeat("a ", db.MaxSearchWords+1), "20 words"},
			"slashes make words": {strings.Repeat("a/", db.MaxSearchWords+1), "20 words"},
		} {
			_, err := d.WorksPage(ctx, tid, db.WorkQuery{Search: tc.q})
			var ve *tenants.ValidationError
			if !errors.As(err, &ve) || ve.Field != "q" || !strings.Contains(ve.Message, tc.limit) {
				t.Errorf("%s: WorksPage = %v, want a validation error of q naming the limit (%s)", name, err, tc.limit)
			}
		}
		for name, q := range map[string]string{
			"at the limit":  strings.Repeat("é", db.MaxSearch),
			"many percents": strings.Repeat("%", db.MaxSearch),
			"many words":    strings.Repeat("a ", db.MaxSearchWords) + strings.Repeat(" ", db.MaxSearch-2*db.MaxSearchWords),
		} {
			if got, p := pageNames(t, d, tid, db.WorkQuery{Search: q}); name == "many words" && (len(got) != 1 || p.Total != 1) {
				t.Errorf("%s: got %v, want alpha", name, got)
			}
		}
	})
}
