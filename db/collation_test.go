package db_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestPathsCompareAsBytesUnderAnyCollation: store keys are compared byte by
// byte whatever the collation of the PostgreSQL database. Most databases are not
// created with the C collation the test cluster uses (en_US.UTF-8 and ICU
// collations order case together and may skip punctuation), and the claims find
// what lies under a directory with the key range "app/" < key < "app0", which
// holds only in byte order. Under such a collation a clash went unseen (a file
// "app" beside another Work's "app/x.yaml"), a case-only difference was taken for
// a clash, and a writer was told that a file under a directory was nobody's.
func TestPathsCompareAsBytesUnderAnyCollation(t *testing.T) {
	for _, c := range []struct{ name, locale string }{
		{"icu-shifted", "en-US-u-ka-shifted"}, // punctuation ignored, as glibc's en_US.UTF-8 does
		{"icu", "en-US"},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := testpeers.Postgres(t).NewDatabaseWith(t, "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '"+c.locale+"' LOCALE 'C'")
			d, tid, _ := worksDB(t, target{dialect: "postgres", url: url})
			ctx := context.Background()
			submit(t, d, tid, resourceWork("r1", "prod", "app/x.yaml", "1"), false)
			if _, err := d.SubmitWork(ctx, tid, resourceWork("r2", "prod", "app", "1"), false); !errors.Is(err, tenants.ErrConflict) {
				t.Errorf("file app beside another Work's app/x.yaml: %v, want a conflict", err)
			}
			submit(t, d, tid, resourceWork("r3", "prod", "B/x.yaml", "1"), false)
			if _, err := d.SubmitWork(ctx, tid, resourceWork("r4", "prod", "b", "1"), false); err != nil {
				t.Errorf("file b beside another Work's B/x.yaml: %v, want no conflict (keys are case-sensitive)", err)
			}
			got, err := d.Claimed(ctx, tenants.StoreRef{TenantID: tid, Kind: tenants.KindGit, Name: "repo"}, nil, []string{"s/prod/app/", "s/prod/B/"})
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"s/prod/B/x.yaml", "s/prod/app/x.yaml"}; !slices.Equal(got, want) {
				t.Errorf("claimed below app/ and B/ = %q, want %q", got, want)
			}
		})
	}
}
