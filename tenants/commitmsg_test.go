package tenants

import (
	"strings"
	"testing"
)

func TestValidateCommitMessage(t *testing.T) {
	tests := []struct {
		name, text, wantErr string
	}{
		{"jira from a label", `{{index (index .Works 0).Labels "jira"}}: {{.Summary}}`, ""},
		{"every field", `{{.Team}} {{.Store}} {{range .Destinations}}{{.}}{{end}}{{range .Works}}{{.Name}}{{.Promise}}{{.RequestedBy}}{{.RequesterName}}{{.CorrelationID}}{{.URL}}{{.Deleted}}{{range .Destinations}}{{.}}{{end}}{{end}}`, ""},
		{"missing label is empty", `x{{index (index .Works 1).Labels "nope"}}`, ""},
		{"does not parse", `{{.Works`, "unclosed action"},
		{"unknown field", `{{.Nope}}`, "can't evaluate field Nope"},
		{"fails on the sample", `{{index .Works 7}}`, "index out of range"},
		{"empty", `{{/* nothing */}}  `, "empty message"},
		{"endless", `{{range .Works}}{{range $.Works}}{{range $.Works}}{{range $.Works}}{{range $.Works}}{{range $.Works}}{{range $.Works}}{{range $.Works}}{{range $.Works}}{{range $.Works}}{{range $.Works}}{{range $.Works}}{{range $.Works}}{{range $.Works}}{{range $.Works}}{{.URL}}{{end}}{{end}}{{end}}{{end}}{{end}}{{end}}{{end}}{{end}}{{end}}{{end}}{{end}}{{end}}{{end}}{{end}}{{end}}`, "longer than"},
		{"too long", strings.Repeat("x", MaxCommitTemplate+1), "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateCommitMessage("spec.commitMessage", tt.text)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || fieldOf(err) != "spec.commitMessage" {
				t.Errorf("err %v, want one naming spec.commitMessage saying %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzValidateCommitMessage(f *testing.F) {
	f.Add(`{{index (index .Works 0).Labels "jira"}}: {{.Summary}}`)
	f.Add(`{{range .Works}}{{.Name}}{{end}}`)
	f.Add(`{{.Works`)
	f.Fuzz(func(t *testing.T, text string) {
		if ValidateCommitMessage("spec.commitMessage", text) != nil {
			return
		}
		tmpl, err := ParseCommitMessage(text)
		if err != nil {
			t.Fatalf("accepted but does not parse: %v", err)
		}
		msg, err := RenderCommitMessage(tmpl, SampleCommitMessageData())
		if err != nil || msg == "" || len(msg) > MaxCommitMessage {
			t.Fatalf("accepted but renders %q, %v", msg, err)
		}
	})
}

func TestWorkLabels(t *testing.T) {
	req := WorkRequest{Promise: "redis", Resource: &ResourceRef{Namespace: "default", Name: "a"},
		Files: []WorkFile{{Path: "a.yaml", Content: "a: 1\n"}}, Labels: map[string]string{"jira": "JIRA-1", "example.com/team": "a"}}
	w, err := req.Work()
	if err != nil || w.Labels["jira"] != "JIRA-1" || len(w.Labels) != 2 {
		t.Fatalf("Work() = %+v, %v; want the labels kept", w, err)
	}
	for _, bad := range []map[string]string{{"jira": "has space"}, {"-bad": "x"}, {"a/b/c": "x"}} {
		req.Labels = bad
		if _, err := req.Work(); err == nil || fieldOf(err) != "labels" {
			t.Errorf("labels %v: err %v, want one naming labels", bad, err)
		}
	}
	req.Labels = map[string]string{}
	for i := range maxWorkLabels + 1 {
		req.Labels[strings.Repeat("k", i+1)] = "v"
	}
	if _, err := req.Work(); err == nil || fieldOf(err) != "labels" {
		t.Errorf("%d labels: err %v, want one naming labels", len(req.Labels), err)
	}
}

// fieldOf is the field of the first validation error in err, "" for none.
func fieldOf(err error) string {
	var es ValidationErrors
	if es.Add(err) != nil || len(es) == 0 {
		return ""
	}
	return es[0].Field
}
