package views

import (
	"time"

	"github.com/stateward/stateward/tenants"
)

// Shell is what every page's layout needs: who is signed in, which team is shown,
// where in the navigation we are, the one-time flash and the asset URLs.
type Shell struct {
	Title   string               // page title, without the product name
	Email   string               // signed-in person ("" = signed out)
	Teams   []tenants.Membership // for the team switcher
	Current *tenants.Tenant      // nil outside /t/{slug}/
	Role    tenants.Role         // the signed-in person's role in Current
	// Nav is the active section: "overview", "stores", "destinations", "works",
	// "triggers", "members", "tokens", "settings", "audit" (or "import", no tab).
	Nav   string
	Flash *Flash // shown once, above the page content
	// Asset URLs: the handler passes static.URL("app.css") and so on (views must
	// not import static, so that they render without it in tests).
	CSS, JS, HTMX, Icon string
}

// Flash is a one-time message carried across a POST-redirect-GET.
type Flash struct {
	Kind string // FlashOK or FlashError
	Text string
}

// Flash kinds.
const (
	FlashOK    = "ok"
	FlashError = "error"
)

// Option is one choice of a select field.
type Option struct {
	Value string
	Label string
}

// FieldProps describes one labelled form input with its help and error text. The
// same props render the field inside a page and, alone, as the answer of an inline
// validation request (see Field).
type FieldProps struct {
	Name  string // the form field name, also the key of its validation error
	Label string
	// Type is an <input> type ("text" when empty, "email", "password", "url", ...)
	// or one of "textarea", "select" and "checkbox".
	Type  string
	Value string // never set for secrets: a password field ignores it anyway
	Error string // shown under the input; marks it aria-invalid
	Help  string
	// Required marks the field with an asterisk and the browser's required check.
	Required bool
	// ValidateURL, when set, makes the field post the form to it on change and
	// replace itself (the wrapper) with the answer, a 200 re-rendered Field.
	ValidateURL string
	Placeholder string
	Mono        bool     // monospace input, for paths, URLs, keys and YAML
	Options     []Option // for Type "select"
	Checked     bool     // for Type "checkbox" (its value is "true")
	ReadOnly    bool     // submitted but not editable (a name when editing)
	Disabled    bool     // not submitted (an immutable setting when editing)
	Rows        int      // for Type "textarea"; 4 when zero
	// Autocomplete is the autocomplete attribute; secrets get "off" or
	// "new-password" automatically.
	Autocomplete string
}

// LandingProps is the signed-out front page.
type LandingProps struct {
	LoginURL string // "/login" when empty
}

// TeamNewProps is the "Create a team" form. Its fields are named "slug" and "name"
// (errors keyed the same) and it posts to /teams.
type TeamNewProps struct {
	Slug, Name  string
	Errors      tenants.ValidationErrors
	NoTeam      bool   // the person is in no team yet: say so above the form
	ValidateURL string // inline validation endpoint ("" = none)
	// Unverified: the IdP has not verified the person's email, so they can neither
	// create a team nor be linked to an invitation; the page says why.
	Unverified bool
}

// OverviewProps is a team's front page: counts, what needs attention, what happened.
type OverviewProps struct {
	StoresReady, StoresNotReady, StoresUnknown int
	Destinations                               int
	WorksPending                               int  // placements pending or writing now
	WorksPendingCapped                         bool // more than WorksPending (the count stops there)
	WorksFailed24h                             int  // placements that failed in the last 24 h
	WorksWaiting                               int  // Works with a workload group placed nowhere
	Attention                                  []AttentionItem
	// PullRequests are the pull-request stores with an open pull request or a
	// warning; Rejected counts placements whose pull request was closed
	// without merging. Both are listed under Needs attention.
	PullRequests []tenants.PRStoreView
	Rejected     int
	Activity     []ActivityItem // most recent first
}

// AttentionItem is one thing that needs someone: a failing store, a failed write or
// a Work placed nowhere (Waiting).
type AttentionItem struct {
	Waiting bool   // a Work that found no ready Destination and waits for one
	Kind    string // tenants.KindGit, tenants.KindBucket or "Work"
	Name    string // store name or work name
	WorkID  int64  // for Kind "Work": links to /t/{slug}/works/{id}
	Message string // verbatim from the check or the remote
	At      *time.Time
}

// ActivityItem is one placement's latest write, for activity lists and a
// Destination's recent writes.
type ActivityItem struct {
	WorkID      int64
	Work        string // the Work's name (<promise>[-<ns>-<resource>][-<pipeline>])
	Destination string
	State       string // tenants.StatePending, ...Writing, ...Written, ...Failed
	Version     string // commit SHA or object version
	Error       string // verbatim from the remote
	At          time.Time
}

// MembersProps is the member list and, for owners, the add form (fields "email" and
// "role", posting to /t/{slug}/members).
type MembersProps struct {
	Members       []tenants.Member
	AllowedDomain string // admitted automatically as viewers; "" = invitation only
	SelfUserID    int64  // the signed-in person: no remove button on their own row
	Email         string // add form values, re-shown after a failed submit
	Role          string
	Errors        tenants.ValidationErrors // keyed "email" and "role"
}

// TokensProps is the API token list and, for owners, the create form (fields "name"
// and "role", posting to /t/{slug}/tokens).
type TokensProps struct {
	Tokens []tenants.Token
	// NewToken is the secret of a token created by the previous request: shown once,
	// with a copy button and a curl example. Never stored by the handler.
	NewToken string
	BaseURL  string // public URL for the curl example, e.g. https://stateward.example.com
	Name     string // create form values, re-shown after a failed submit
	Role     string
	Errors   tenants.ValidationErrors // keyed "name" and "role"
}

// SettingsProps is the team settings form (fields "name" and "allowedDomain",
// posting to /t/{slug}/settings; only owners may change them).
type SettingsProps struct {
	Name          string
	AllowedDomain string
	// GroupRoles is the "group = role" text (field "groupRoles"): IdP groups whose
	// members get a role at sign-in.
	GroupRoles  string
	GroupsClaim string                   // the ID token claim the groups come from
	Errors      tenants.ValidationErrors // keyed "name", "allowedDomain" and "groupRoles"
	ValidateURL string
}

// StoresProps is the State Store list; the two kinds are merged and sorted by name.
type StoresProps struct {
	Git    []tenants.GitStateStore
	Bucket []tenants.BucketStateStore
}

// GitStoreFormProps is the create/edit form of a Git State Store. Field names are
// the error keys: metadata.name, spec.url, spec.branch, spec.path, spec.authMethod,
// username, password, sshPrivateKey, knownHosts, spec.gitAuthor.name,
// spec.gitAuthor.email, spec.insecure ("true" when checked) and spec.caBundle.
// Credentials are never rendered, so a failed submit asks for them again.
type GitStoreFormProps struct {
	Store       tenants.GitStateStore
	Edit        bool // name read-only; blank secrets keep the current ones
	Errors      tenants.ValidationErrors
	Action      string // form action; default /t/{slug}/stores/git[/{name}]
	ValidateURL string // inline validation endpoint ("" = none)
}

// BucketStoreFormProps is the create/edit form of a Bucket State Store. Field names:
// metadata.name, spec.endpoint, spec.bucketName, spec.path, spec.insecure,
// spec.region, spec.authMethod, accessKeyID and secretAccessKey.
type BucketStoreFormProps struct {
	Store       tenants.BucketStateStore
	Edit        bool
	Errors      tenants.ValidationErrors
	Action      string // default /t/{slug}/stores/bucket[/{name}]
	ValidateURL string
}

// StoreProps is one State Store's page: exactly one of Git and Bucket is set.
type StoreProps struct {
	Git       *tenants.GitStateStore
	Bucket    *tenants.BucketStateStore
	UsedBy    []string    // names of the Destinations that use the store
	StatusURL string      // polled while the status is unknown; default …/{name}/status
	Retry     *StoreRetry // the store's write in backoff (nil: none)
	// PR is a pull-request store's pull request and webhook (nil: the store
	// pushes).
	PR *StorePRProps
}

// StoreRetry is a store's write waiting out a backoff after failed tries.
type StoreRetry struct {
	Attempts      int
	NextAttemptAt time.Time
	LastError     string // verbatim from the store
	Placements    int    // placements retrying
}

// StoreStatusProps is the live status fragment of a State Store.
type StoreStatusProps struct {
	Status tenants.Status
	URL    string // polled every 2 s while the status is unknown ("" = no polling)
}

// DestinationsProps is the Destination list with its label filter.
type DestinationsProps struct {
	Destinations  []tenants.Destination
	Selector      string // the filter as typed, e.g. "env=dev,team=a"
	SelectorError string // why the filter could not be parsed
}

// StoreRef names a State Store, for the Destination form's store select.
type StoreRef struct {
	Kind string // tenants.KindGit or tenants.KindBucket
	Name string
}

// SampleInputs are the preview's sample Work identity (fields samplePromise,
// sampleNamespace, sampleResource and samplePipeline of the Destination form).
type SampleInputs struct {
	Promise, Namespace, Resource, Pipeline string
}

// DestinationFormProps is the create/edit form of a Destination with its live
// preview. Field names: metadata.name, labelKey and labelValue (repeated, one pair
// per row), spec.path, spec.stateStoreRef ("<kind>/<name>", see StoreRefValue),
// spec.strictMatchLabels, spec.filepath.mode (sent as a hidden field when editing,
// since the select is disabled), spec.filepath.filename, spec.cleanup,
// spec.initWorkloads.enabled and the sample fields of SampleInputs. Checkboxes send
// "true" when checked. A new Destination should come with InitWorkloads true.
type DestinationFormProps struct {
	Dest        tenants.Destination
	Edit        bool // name read-only, mode fixed
	Stores      []StoreRef
	Errors      tenants.ValidationErrors // also metadata.labels, spec.stateStoreRef.kind/.name
	Action      string                   // default /t/{slug}/destinations[/{name}]
	ValidateURL string
	PreviewURL  string // the form posts itself here as the user types
	Sample      SampleInputs
	Preview     PreviewProps // the panel's first render
}

// PreviewPath is one key the preview says a sample Work would write.
type PreviewPath struct {
	Path  string // full key inside the store
	Kind  string // "dependency", "resource", "canary" or "state"
	Owned bool   // written and owned by the sample placement (highlighted)
}

// PreviewProps is the Destination form's preview panel.
type PreviewProps struct {
	Paths []PreviewPath
	// OwnedDirs are directories a placement owns wholly (pathing's OwnedPrefix);
	// they and everything under them are highlighted.
	OwnedDirs []string
	Error     string // why no preview can be computed (shown instead of the tree)
	Note      string // one line about the layout, e.g. for aggregatedYAML
	DryRun    bool   // the Destination is a dry-run Destination (kratix.io/dry-run: "true")
	// Conflict is why saving would be refused for another Destination on the same
	// store (an overlapping path); shown above the tree.
	Conflict string
}

// PlacedFile is one file currently placed on a Destination.
type PlacedFile struct {
	Kind   string // "canary" for the Destination's canary files, else ""
	Path   string // full key inside the store
	Work   string
	WorkID int64
	State  string
}

// DestinationProps is one Destination's page.
type DestinationProps struct {
	Dest      tenants.Destination
	Files     []PlacedFile   // the tree of what is placed on it
	OwnedDirs []string       // directories the placements own (highlighted)
	Writes    []ActivityItem // recent writes, most recent first
	// Placements is how many placements the Destination holds; Files shows at
	// most the first MaxTreePlacements of them (by name).
	Placements, Shown int
}

// MaxTreePlacements bounds the file tree of a Destination's page; the Works list,
// filtered by the Destination, pages through all of them.
const MaxTreePlacements = 500

// ImportResult is one applied document of an import.
type ImportResult struct {
	Index  int
	Kind   string
	Name   string
	Action string // "created", "updated", "unchanged" or "skipped"
	// Message says what an update that moves files will write where.
	Message string
	// Diff is what the document changes (in a preview), never a secret value.
	Diff []ImportChange
}

// ImportChange is one field a previewed document changes: old → new, or for a
// secret value only what happens to it (Secret: "added", "changed", "removed").
type ImportChange struct {
	Field, Old, New string
	Secret          string
}

// ImportError is one rejected document of an import.
type ImportError struct {
	Index   int
	Kind    string
	Name    string
	Field   string
	Message string
}

// ImportProps is the Kratix YAML import form (fields "yaml" and the multipart
// "file", posting to /t/{slug}/import) and the outcome of the last import.
type ImportProps struct {
	YAML     string // re-shown after a failed import
	MaxBytes int    // the largest YAML accepted, stated in the form and checked before sending
	Results  []ImportResult
	Errors   []ImportError
	// Warnings are accepted documents that refer to something not there yet (a
	// State Store, a Secret): they wait for it.
	Warnings []ImportError
	Error    string // a problem with the request as a whole
	// Preview marks the outcome of a dry run: nothing was applied.
	Preview bool
}

// WorkRow is one Work with its placements' state counts.
type WorkRow struct {
	Work                                        tenants.Work
	Written, Pending, Writing, Retrying, Failed int
	// Proposed and Rejected count placements on pull-request stores awaiting
	// review, and closed without merging.
	Proposed, Rejected int
	Waiting            int    // workload groups placed nowhere
	TriggerName        string // the trigger that submitted it ("" = dashboard or API)
}

// WorkFilter is the Works list's search and filters, as in its URL (q, state,
// destination, trigger).
type WorkFilter struct {
	Search, State, Destination, Trigger string
}

// TriggerOption is one trigger in a filter menu.
type TriggerOption struct {
	ID   int64
	Name string
}

// WorksProps is one page of the Work list.
type WorksProps struct {
	Works        []WorkRow
	Filter       WorkFilter
	Total        int  // Works matching the filter
	TotalCapped  bool // more than Total match (the count stops there)
	Paged        bool // not the first page
	NextURL      string
	States       []string
	Destinations []string
	Triggers     []TriggerOption
	// SearchMax is the longest search, in characters, the server takes (the
	// search box's maxlength; none when 0).
	SearchMax int
}

// WorkFileInput is one file row of the Work form.
type WorkFileInput struct{ Path, Content string }

// WorkFormProps is the "New Work" form: one workload group in directory ".".
// Field names: promise, resource.namespace, resource.name, pipeline,
// destinationSelectors ("env=dev,team=a"), labels (the same form) and the repeated rows filePath and
// fileContent. Errors keyed workloadGroups[0].files[i]… are shown next to row i,
// the rest in the summary and under their fields.
type WorkFormProps struct {
	Promise, Namespace, Resource, Pipeline string
	Selectors                              string
	Labels                                 string
	Files                                  []WorkFileInput // one empty row is rendered when none
	Errors                                 tenants.ValidationErrors
	Plan                                   *WorkPlan // the dry run, rendered in #plan (nil = not asked yet)
	Action                                 string    // the Write target; default /t/{slug}/works
	PlanURL                                string    // the Preview plan target; default /t/{slug}/works/plan
}

// WorkPlan is a Work's dry run: where its files would go.
type WorkPlan struct {
	Placements  []PlanPlacement
	Deletes     []PlanPlacement // placements whose files would be removed
	Unscheduled []tenants.Unscheduled
	Error       string // why no plan could be made
	// Summary compares the plan with what the stores hold now, e.g. "3 added, 1
	// changed, 2 removed on 2 Destinations"; DiffError says why it could not.
	Summary, DiffError string
}

// PlanPlacement is one Destination of a plan with the full keys written there.
type PlanPlacement struct {
	Destination string
	Paths       []string
	Misplaced   bool              // the Destination no longer matches the selectors
	Diff        *tenants.FileDiff // what the write would change in the store (nil: not compared)
}

// PlacementRow is one placement of a Work, as its page shows it.
type PlacementRow struct {
	Destination, Name string
	Paths             []string
	State             string     // one of tenants.PlacementStates
	Attempts          int        // failed tries so far (retrying)
	NextAttemptAt     *time.Time // when a retrying placement is tried again
	Version           string     // commit SHA (Git) or content hash (bucket)
	StoreKind         string     // tenants.KindGit or KindBucket: what Version is
	Error             string     // verbatim from the remote
	Misplaced         bool       // the Destination no longer matches the selectors
	Deleting          bool       // its files are being removed
	UpdatedAt         time.Time
	// PullRequest carries (carried) the placement, on a pull-request store.
	PullRequest *tenants.PlacementPR
}

// WorkProps is one Work's page; WorkPlacements renders its live part.
type WorkProps struct {
	ID                                     int64
	Name                                   string // <promise>[-<ns>-<resource>][-<pipeline>]
	Promise, Namespace, Resource, Pipeline string
	TriggerID                              *int64
	TriggerName                            string
	Deleted                                bool
	Placements                             []PlacementRow
	Unscheduled                            []tenants.Unscheduled
	StatusURL                              string // the placements fragment, polled while !Final
	Final                                  bool   // every placement in a final state: polling stops
	Retryable                              bool   // a placement retrying or failed: "Retry now" is offered
	UpdatedAt                              time.Time
	// History is who wrote, re-wrote or deleted the Work, newest first;
	// HistoryURL is the audit log's JSON for all of it.
	History    []tenants.AuditEvent
	HistoryURL string
	// Labels are the Work's own labels; RequestedBy and CorrelationID who
	// submitted it last and the request's id, as the commit trailers say.
	Labels                     map[string]string
	RequestedBy, CorrelationID string
	// Versions are the commits (or bucket versions) that carried its
	// placements, newest first; URL links a commit on a known host.
	Versions []tenants.WorkVersion
}

// TriggersProps is the webhook trigger list and, for editors, the create form
// (fields name, promise, ratePerSecond and requireSignature, posting to
// /t/{slug}/triggers).
type TriggersProps struct {
	Triggers            []tenants.Trigger
	Name, Promise, Rate string // create form values, re-shown after a failed submit
	RequireSignature    bool
	Errors              tenants.ValidationErrors
}

// TriggerCreatedProps is the page right after a trigger was created: its URL and
// secret are shown this once and never again.
type TriggerCreatedProps struct {
	Trigger     tenants.Trigger
	URL, Secret string
	Slug        string
}

// DeliveryRow is one webhook request a trigger received.
type DeliveryRow struct {
	At       time.Time
	SourceIP string
	Status   int    // the HTTP status answered
	WorkID   *int64 // the Work it wrote or deleted
	Error    string // the message answered with a 4xx/5xx
}

// TriggerProps is one trigger's page.
type TriggerProps struct {
	Trigger    tenants.Trigger
	Deliveries []DeliveryRow // most recent first
	NewSecret  string        // set right after a rotation: shown once
}

// AuditProps is one page of a team's audit log, newest first.
type AuditProps struct {
	Events  []tenants.AuditEvent
	Paged   bool   // not the first page
	NextURL string // the next (older) page, "" on the last
}

// CLILoginProps is the confirmation page of `stateward login`: the CLI's loopback
// port and state, the host name it reported, and the teams the person may choose
// (Tenant preselected when the CLI named one).
type CLILoginProps struct {
	Port, State, Host string
	Tenant            string
	Teams             []tenants.Membership
}
