package db

import "database/sql"

// PoolStats is the state of the pool write transactions take their connection
// from (on PostgreSQL the only pool): connections in use and idle, and how often
// and how long callers waited for one. For benchmarks and diagnostics.
func (d *DB) PoolStats() sql.DBStats { return d.w.Stats() }
