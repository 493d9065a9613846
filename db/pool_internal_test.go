package db

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/stateward/stateward/testpeers"
)

// TestPoolMaxConns: pool_max_conns in STATEWARD_DATABASE_URL sizes each
// replica's pool and is not sent to the server (which would refuse an unknown
// setting); without it the pool holds 4·max(4, GOMAXPROCS) connections.
func TestPoolMaxConns(t *testing.T) {
	s, _ := NewSealer(make([]byte, 32))
	url := testpeers.Postgres(t).NewDatabase(t)
	for _, c := range []struct {
		query string
		want  int
	}{{"", 4 * max(4, runtime.GOMAXPROCS(0))}, {"&pool_max_conns=3", 3}} {
		d, err := Open(context.Background(), Options{URL: url + c.query, Sealer: s})
		if err != nil {
			t.Fatalf("open with %q: %v", c.query, err)
		}
		if got := d.w.Stats().MaxOpenConnections; got != c.want {
			t.Errorf("%q: pool of %d connections, want %d", c.query, got, c.want)
		}
		if err := d.Ping(context.Background()); err != nil {
			t.Errorf("%q: ping: %v", c.query, err)
		}
		d.Close()
	}
	for _, bad := range []string{"0", "many", "100000"} {
		_, err := Open(context.Background(), Options{URL: url + "&pool_max_conns=" + bad, Sealer: s})
		if err == nil || !strings.Contains(err.Error(), "pool_max_conns") {
			t.Errorf("pool_max_conns=%s: %v, want an error naming pool_max_conns", bad, err)
		}
	}
}
