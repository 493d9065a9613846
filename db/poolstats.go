package db

import "database/sql"

// PoolStats is the state of the pool write transactions take their connection
// from (on PostgreSQL the only pool): connections in use and idle, and how often
// and how long callers waited for one. For benchmarks and diagnostics.
func (d *DB) PoolStats() sql.DBStats { return d.w.Stats() }

// AdmitLimit is how many submits this replica admits at a time now (admit.go);
// 0 on SQLite, whose submits are group-committed instead. For benchmarks.
func (d *DB) AdmitLimit() int {
	if d.admit == nil {
		return 0
	}
	return d.admit.Limit()
}
