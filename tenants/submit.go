package tenants

// SubmitResult answers a submitted Work (POST …/works, webhooks): where it goes,
// the full keys it writes there, and the job that writes them.
type SubmitResult struct {
	// Work is the Work's id, stable for its identity. A dry run of a new Work
	// answers 0.
	Work int64 `json:"work"`
	// Placements are the Destinations the Work is written to.
	Placements []PlacementPlan `json:"placements"`
	// Unscheduled lists the groups that found no Destination.
	Unscheduled []Unscheduled `json:"unscheduled"`
	// Deletes are placements whose files are removed: the Work was deleted, a group
	// was dropped, or a Destination stopped matching (Misplaced).
	Deletes []PlacementPlan `json:"deletes,omitempty"`
}

// PlacementPlan is one placement in a SubmitResult.
type PlacementPlan struct {
	Destination string `json:"destination"`
	// Name is the placement's name, <work name>.<destination>-<group id>.
	Name  string `json:"name"`
	Group int    `json:"group"`
	// Paths are full keys inside the store, exactly as written.
	Paths []string `json:"paths"`
	// Job is the job that writes it; null in a dry run.
	Job   *int64 `json:"job"`
	State string `json:"state"`
	// Misplaced: the Destination no longer matches the group's selectors.
	Misplaced bool `json:"misplaced,omitempty"`
}
