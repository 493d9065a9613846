// Package planner decides where a Work goes and what each placement writes, from
// plain domain values and without I/O: given the Work, the team's Destinations
// with their stores' readiness and paths, and the Work's placements as stored, it
// returns the placements (their layout, keys and key claims), the placements to
// remove, and the groups that found no Destination, with why. Whether a claim
// clashes with another placement's is decided here too, from the claims the
// caller read. The database reads the inputs and stores the results in one
// transaction (db.planWork); the live previews and dry runs call the same code.
//
// It imports only tenants and pathing.
package planner
