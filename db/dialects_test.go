package db_test

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/testpeers"
)

func TestMain(m *testing.M) { testpeers.RunMain(m) }

// target is one empty database for a test: a SQLite file or a PostgreSQL
// database of the shared test cluster.
type target struct {
	dialect string
	path    string // SQLite
	url     string // PostgreSQL
}

func (tg target) options(s *db.Sealer, now func() time.Time) db.Options {
	return db.Options{Path: tg.path, URL: tg.url, Sealer: s, Now: now}
}

// dialects are the databases every db test runs against.
var dialects = []string{"sqlite", "postgres"}

func newTarget(t testing.TB, dialect string) target {
	t.Helper()
	if dialect == "postgres" {
		return target{dialect: dialect, url: testpeers.Postgres(t).NewDatabase(t)}
	}
	return target{dialect: dialect, path: filepath.Join(t.TempDir(), "s.db")}
}

// proxiedPostgres is a PostgreSQL target reached through a TCP proxy (for
// latency and round-trip counts).
func proxiedPostgres(t testing.TB) (target, *testpeers.TCPProxy) {
	t.Helper()
	tg := newTarget(t, "postgres")
	u, err := url.Parse(tg.url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testpeers.NewTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	tg.url = u.String()
	return tg, proxy
}

// eachDialect runs f once per database, as the subtests "sqlite" and "postgres",
// each on a fresh empty database.
func eachDialect(t *testing.T, f func(t *testing.T, tg target)) {
	t.Helper()
	for _, name := range dialects {
		t.Run(name, func(t *testing.T) { f(t, newTarget(t, name)) })
	}
}

// column is a column as both dialects describe it: name, a type family and
// whether it is NOT NULL (a primary key counts as NOT NULL).
type column struct {
	Name    string
	Family  string
	NotNull bool
}

// schema is every table's columns in order, and the names of the indexes made by
// CREATE INDEX (not those behind PRIMARY KEY or UNIQUE).
type schema struct {
	Tables  map[string][]column
	Indexes []string
}

// TestSchemasMatch: the SQLite and PostgreSQL migrations produce the same tables,
// columns (in order, with the same type family and nullability) and indexes. A
// migration added for one dialect only fails here.
func TestSchemasMatch(t *testing.T) {
	ctx := context.Background()
	var got [2]schema
	for i, name := range dialects {
		tg := newTarget(t, name)
		s, _ := db.NewSealer(key(1))
		d, err := db.Open(ctx, tg.options(s, nil))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d.Close()
		if name == "postgres" {
			got[i] = postgresSchema(t, tg.url)
		} else {
			got[i] = sqliteSchema(t, tg.path)
		}
		if len(got[i].Tables) < 15 {
			t.Fatalf("%s: only %d tables: %v", name, len(got[i].Tables), got[i].Tables)
		}
	}
	lite, pg := got[0], got[1]
	for table, cols := range lite.Tables {
		if !slices.Equal(cols, pg.Tables[table]) {
			t.Errorf("table %s:\n sqlite   %v\n postgres %v", table, cols, pg.Tables[table])
		}
	}
	for table := range pg.Tables {
		if _, ok := lite.Tables[table]; !ok {
			t.Errorf("table %s exists on PostgreSQL only", table)
		}
	}
	if !slices.Equal(lite.Indexes, pg.Indexes) {
		t.Errorf("indexes:\n sqlite   %v\n postgres %v", lite.Indexes, pg.Indexes)
	}
}

// family maps a declared or reported column type to what both dialects share.
func family(t *testing.T, typ string) string {
	switch strings.ToLower(typ) {
	case "integer", "bigint":
		return "integer"
	case "text":
		return "text"
	case "boolean":
		return "boolean"
	case "timestamp", "timestamp with time zone", "timestamptz":
		return "timestamp"
	case "real", "double precision":
		return "float"
	}
	t.Errorf("column type %q has no family; add it to family()", typ)
	return typ
}

func sqliteSchema(t *testing.T, path string) schema {
	t.Helper()
	c, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := schema{Tables: map[string][]column{}}
	tables := queryStrings(t, c, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	for _, table := range tables {
		rows, err := c.Query(`SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`, table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var col column
			var typ string
			var notNull, pk int
			if err := rows.Scan(&col.Name, &typ, &notNull, &pk); err != nil {
				t.Fatal(err)
			}
			col.Family, col.NotNull = family(t, typ), notNull == 1 || pk > 0
			s.Tables[table] = append(s.Tables[table], col)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s.Indexes = queryStrings(t, c, `SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name`)
	return s
}

func postgresSchema(t *testing.T, url string) schema {
	t.Helper()
	c, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := schema{Tables: map[string][]column{}}
	rows, err := c.Query(`SELECT table_name, column_name, data_type, is_nullable = 'NO' FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, typ string
		var col column
		if err := rows.Scan(&table, &col.Name, &typ, &col.NotNull); err != nil {
			t.Fatal(err)
		}
		col.Family = family(t, typ)
		s.Tables[table] = append(s.Tables[table], col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	s.Indexes = queryStrings(t, c, `SELECT i.relname FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class r ON r.oid = x.indrelid
		WHERE r.relnamespace = current_schema()::regnamespace
		AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid) ORDER BY 1`)
	return s
}

func queryStrings(t *testing.T, c *sql.DB, q string) []string {
	t.Helper()
	rows, err := c.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// tableNames lists the tables of the connected PostgreSQL database.
func tableNames(t *testing.T, c *pgx.Conn) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestTimesRoundTrip: a time the database hands out is the time it reads back —
// at the resolution both databases keep (microseconds) and in UTC — whatever the
// clock's nanoseconds and zone.
func TestTimesRoundTrip(t *testing.T) {
	// The machine's zone must not leak into what is read back (no db test runs in
	// parallel, so swapping time.Local here is safe).
	local := time.Local
	time.Local = time.FixedZone("UTC-3", -3*3600)
	t.Cleanup(func() { time.Local = local })
	eachDialect(t, func(t *testing.T, tg target) {
		zone := time.FixedZone("UTC+5", 5*3600)
		now := time.Date(2026, 3, 1, 17, 0, 0, 123456789, zone)
		s, _ := db.NewSealer(key(1))
		d, err := db.Open(context.Background(), tg.options(s, func() time.Time { return now }))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		created, err := d.CreateTenant(context.Background(), "team-a", "", "")
		if err != nil {
			t.Fatal(err)
		}
		read, err := d.TenantBySlug(context.Background(), "team-a")
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
		if tg.dialect == "sqlite" {
			want = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC) // SQLite keeps nanoseconds
		}
		if !created.CreatedAt.Equal(want) || created.CreatedAt.Location() != time.UTC {
			t.Errorf("created at %v, want %v", created.CreatedAt, want)
		}
		if read.CreatedAt != created.CreatedAt {
			t.Errorf("read back %v (%s), want %v as handed out", read.CreatedAt, read.CreatedAt.Location(), created.CreatedAt)
		}
	})
}
