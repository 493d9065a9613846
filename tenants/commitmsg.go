package tenants

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
)

// CommitMessageData is what a store's spec.commitMessage template sees: a
// stable set of fields, documented in the README ("The commit trail").
// Renaming one breaks templates people wrote: add, never rename.
type CommitMessageData struct {
	// Works are the Works the commit writes or removes, in name order.
	Works []CommitWork
	// Destinations are the Destinations the commit touches, sorted.
	Destinations []string
	// Store is the State Store's name, Team the team's slug.
	Store, Team string
	// Summary is the default message's subject ("Update from: …").
	Summary string
}

// CommitWork is one Work of a commit, as a commit message template sees it.
type CommitWork struct {
	Name    string // <namespace>/<name> (or the promise's name for a dependency), as Work.Name
	Promise string
	// Labels are the Work's labels: {{index .Labels "jira"}}.
	Labels map[string]string
	// RequestedBy is a person's email, a token's or a trigger's name;
	// RequesterName the person's display name when known.
	RequestedBy, RequesterName string
	CorrelationID              string
	// URL is the Work's page on the dashboard ("" without a public URL).
	URL string
	// Destinations the commit writes it to (or removes it from), sorted.
	Destinations []string
	// Deleted: the commit removes the Work's files.
	Deleted bool
}

// Bounds of a commit message template and of what it renders.
const (
	MaxCommitTemplate = 4 << 10
	MaxCommitMessage  = 16 << 10
)

// SampleCommitMessageData is what a template is tried on when a store is
// applied: one Work with a label, one without, on two Destinations.
func SampleCommitMessageData() CommitMessageData {
	return CommitMessageData{
		Works: []CommitWork{
			{Name: "default/redis-a", Promise: "redis", Labels: map[string]string{"jira": "OPS-1"}, RequestedBy: "alice@example.com",
				RequesterName: "Alice", CorrelationID: "req-1", URL: "https://stateward.example.com/t/team/works/1", Destinations: []string{"dev"}},
			{Name: "default/redis-b", Promise: "redis", RequestedBy: "ci-token", Destinations: []string{"dev", "prod"}},
		},
		Destinations: []string{"dev", "prod"}, Store: "fleet", Team: "team", Summary: "Update 2 placements: …",
	}
}

// ParseCommitMessage parses a commit message template (missing map keys are
// empty, not "<no value>").
func ParseCommitMessage(text string) (*template.Template, error) {
	return template.New("commitMessage").Option("missingkey=zero").Parse(text)
}

// RenderCommitMessage executes t on data: the subject and body, trimmed, at
// most MaxCommitMessage bytes. An error or an empty result leaves the caller
// to its default message.
func RenderCommitMessage(t *template.Template, data CommitMessageData) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&limitedBuffer{b: &b, max: MaxCommitMessage}, data); err != nil {
		return "", err
	}
	msg := strings.TrimSpace(strings.ReplaceAll(b.String(), "\r\n", "\n"))
	if msg == "" {
		return "", fmt.Errorf("the template renders an empty message")
	}
	return msg, nil
}

// ValidateCommitMessage checks spec.commitMessage at apply: it must parse AND
// execute on sample data into a non-empty message, so that a template that
// would fail on the first write is refused here.
func ValidateCommitMessage(field, text string) error {
	if len(text) > MaxCommitTemplate {
		return Invalid(field, "is %d bytes, more than %d", len(text), MaxCommitTemplate)
	}
	t, err := ParseCommitMessage(text)
	if err != nil {
		return Invalid(field, "%s", strings.TrimPrefix(err.Error(), "template: "))
	}
	if _, err := RenderCommitMessage(t, SampleCommitMessageData()); err != nil {
		return Invalid(field, "%s (tried on a sample commit of two Works)", strings.TrimPrefix(err.Error(), "template: "))
	}
	return nil
}

// limitedBuffer refuses to grow past max bytes (a template looping on a range).
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.b.Len()+len(p) > l.max {
		return 0, fmt.Errorf("the message is longer than %d bytes", l.max)
	}
	return l.b.Write(p)
}
