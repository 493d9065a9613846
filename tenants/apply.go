package tenants

// ApplyResult is what apply did with one document.
type ApplyResult struct {
	Index  int    `json:"index"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action string `json:"action"`
	// Message says what an update that moves placements will write where
	// ("37 placements on 3 Destinations will be written to the new location;
	// nothing is removed from the old one"), or that a store update rewrites
	// nothing.
	Message string `json:"message,omitempty"`
	// Moved is a store's previous endpoint when this apply changed it (for the
	// log of who moved credentials where).
	Moved string `json:"-"`
	// Diff is what the document changed (or, in a dry run, would change), when
	// asked for: [] when nothing.
	Diff []FieldChange `json:"diff,omitzero"`
}

// ActionSkipped is the action of a document Apply did not apply: a kind Stateward
// does not keep (see Document.Skipped).
const ActionSkipped = "skipped"

// ApplyOptions say how an apply runs.
type ApplyOptions struct {
	// DryRun runs the very same apply, every check, warning and plan included,
	// and rolls its transaction back: nothing changes.
	DryRun bool
	// Diff fills each result's Diff.
	Diff bool
}

// DocErrors are the documents apply refused; nothing was applied.
type DocErrors []DocError

// Error implements error.
func (es DocErrors) Error() string {
	if len(es) == 0 {
		return "no errors"
	}
	return es[0].Error()
}

// ApplyWarning is a document Apply accepted that refers to something that does not
// exist yet (Kratix answers such a document with an admission warning).
type ApplyWarning struct {
	Index   int    `json:"index"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Applied is what an apply did (or, in a dry run, would do).
type Applied struct {
	DryRun   bool
	Results  []ApplyResult
	Warnings []ApplyWarning
	// Revived are stores that waited for a Secret this apply brought: their
	// credentials are filled in and they should be checked now.
	Revived []StoreRef
}

// Saved is what saving one store or Destination did: its action (created,
// updated, unchanged) and, for an update that moves where placements live, what
// will be written where (the apply answer's message, the form's flash).
type Saved struct {
	Action  string
	Message string
}

// Apply actions, as the API reports them.
const (
	ActionCreated   = "created"
	ActionUpdated   = "updated"
	ActionUnchanged = "unchanged"
)
