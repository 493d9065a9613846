package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"
)

// cliEnv is what a remote command gets: its arguments and the process's streams.
type cliEnv struct {
	pos    []string
	flags  map[string]string
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// remoteFlags are accepted by every command that talks to a server.
var remoteFlags = []string{"server", "tenant", "token"}

func (e cliEnv) client() (*client, error) {
	creds, err := loadCredentials(e.getenv, e.flags, e.stderr)
	if err != nil {
		return nil, err
	}
	return newClient(creds)
}

// remoteCommands talk to a running server over its API, with the credentials of
// `stateward login`; the other commands work on the server's own database.
var remoteCommands = map[string]func(context.Context, cliEnv) error{
	"login":    loginCmd,
	"apply":    applyCmd,
	"diff":     diffCmd,
	"get":      getCmd,
	"describe": describeCmd,
	"works":    worksCmd,
	"export":   exportCmd,
}

// output writes v as -o json or yaml; false when the table is wanted.
func output(e cliEnv, v any) (bool, error) {
	switch e.flags["output"] {
	case "", "table", "wide":
		return false, nil
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return true, enc.Encode(v)
	case "yaml":
		b, err := json.Marshal(v)
		if err == nil {
			b, err = yaml.JSONToYAML(b)
		}
		if err == nil {
			_, err = e.stdout.Write(b)
		}
		return true, err
	}
	return true, usageError("-o %q: want yaml or json", e.flags["output"])
}

// object is an API object as the lists answer it.
type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec   map[string]any `json:"spec"`
	Status objectStatus   `json:"status"`
}

// objectStatus is a store's or Destination's status: the last readiness check, and
// whether writes to the store are failing now.
type objectStatus struct {
	Ready      *bool  `json:"ready"`
	Message    string `json:"message"`
	Failing    bool   `json:"failing"`
	WriteError string `json:"writeError"`
}

// message is what the MESSAGE column shows: a failing write before the last check,
// since READY alone would say True while nothing can be written.
func (st objectStatus) message() string {
	if st.Failing && st.WriteError != "" {
		return oneLine("writes failing: " + st.WriteError)
	}
	return oneLine(st.Message)
}

func ready(r *bool) string {
	switch {
	case r == nil:
		return "Unknown"
	case *r:
		return "True"
	}
	return "False"
}

// getCmd: stateward get stores|destinations|works [-o yaml|json]
func getCmd(ctx context.Context, e cliEnv) error {
	if len(e.pos) != 1 {
		return usageError("usage: stateward get stores|destinations|works [-o yaml|json]")
	}
	if err := checkFlags(e.flags, append(remoteFlags, "output")...); err != nil {
		return exitError{code: exitUsage, err: err}
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	switch e.pos[0] {
	case "stores", "store", "statestores":
		return getStores(ctx, c, e)
	case "destinations", "destination", "dest":
		return getDestinations(ctx, c, e)
	case "works", "work":
		return getWorks(ctx, c, e)
	}
	return usageError("stateward get %s: want stores, destinations or works", e.pos[0])
}

func getStores(ctx context.Context, c *client, e cliEnv) error {
	var items []json.RawMessage
	for _, p := range []string{"/gitstatestores", "/bucketstatestores"} {
		var l struct{ Items []json.RawMessage }
		if _, err := c.call(ctx, http.MethodGet, p, nil, nil, "", &l); err != nil {
			return err
		}
		items = append(items, l.Items...)
	}
	if done, err := output(e, map[string]any{"items": items}); done {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tREADY\tMESSAGE")
	for _, raw := range items {
		var o object
		_ = json.Unmarshal(raw, &o)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Kind, o.Metadata.Name, ready(o.Status.Ready), o.Status.message())
	}
	return tw.Flush()
}

func getDestinations(ctx context.Context, c *client, e cliEnv) error {
	var l struct{ Items []json.RawMessage }
	if _, err := c.call(ctx, http.MethodGet, "/destinations", nil, nil, "", &l); err != nil {
		return err
	}
	if done, err := output(e, map[string]any{"items": l.Items}); done {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTORE\tPATH\tLABELS\tREADY\tMESSAGE")
	for _, raw := range l.Items {
		var o object
		_ = json.Unmarshal(raw, &o)
		store := ""
		if ref, ok := o.Spec["stateStoreRef"].(map[string]any); ok {
			store = fmt.Sprintf("%v/%v", ref["kind"], ref["name"])
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\n", o.Metadata.Name, store, o.Spec["path"], labels(o.Metadata.Labels), ready(o.Status.Ready), o.Status.message())
	}
	return tw.Flush()
}

func labels(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k+"="+m[k])
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// workSummary is an item of GET …/works.
type workSummary struct {
	ID       int64          `json:"id"`
	Name     string         `json:"name"`
	Promise  string         `json:"promise"`
	Resource *resourceRef   `json:"resource"`
	Deleted  bool           `json:"deleted"`
	States   map[string]int `json:"states"`
	Places   int            `json:"placements"`
	Unsched  int            `json:"unscheduled"`
	Updated  time.Time      `json:"updatedAt"`
}

type resourceRef struct{ Namespace, Name string }

func (r *resourceRef) String() string {
	if r == nil {
		return "<dependencies>"
	}
	return r.Namespace + "/" + r.Name
}

func getWorks(ctx context.Context, c *client, e cliEnv) error {
	var raw json.RawMessage
	if _, err := c.call(ctx, http.MethodGet, "/works", nil, nil, "", &raw); err != nil {
		return err
	}
	var page struct{ Items []json.RawMessage }
	_ = json.Unmarshal(raw, &page)
	if done, err := output(e, map[string]any{"items": page.Items}); done {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROMISE\tRESOURCE\tPLACEMENTS\tSTATES\tUPDATED")
	for _, it := range page.Items {
		var w workSummary
		_ = json.Unmarshal(it, &w)
		states := countsLine(w.States)
		if w.Deleted {
			states = "deleted " + states
		}
		if w.Unsched > 0 {
			states += fmt.Sprintf(" waiting:%d", w.Unsched)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", w.ID, w.Promise, w.Resource, w.Places, strings.TrimSpace(states), w.Updated.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func countsLine(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k, n := range m {
		if n > 0 {
			keys = append(keys, k+":"+strconv.Itoa(n))
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

// workView is GET …/works/{id}.
type workView struct {
	ID          int64        `json:"id"`
	Name        string       `json:"name"`
	Promise     string       `json:"promise"`
	Resource    *resourceRef `json:"resource"`
	Pipeline    string       `json:"pipeline"`
	Deleted     bool         `json:"deleted"`
	Placements  []placement  `json:"placements"`
	Unscheduled []struct {
		Group  int    `json:"group"`
		Reason string `json:"reason"`
	} `json:"unscheduled"`
}

type placement struct {
	Destination string   `json:"destination"`
	State       string   `json:"state"`
	Deleting    bool     `json:"deleting"`
	Version     string   `json:"version"`
	Error       string   `json:"error"`
	LastError   string   `json:"lastError"`
	Paths       []string `json:"paths"`
}

func (p placement) final() bool {
	return p.State == "written" || p.State == "failed" || p.State == "rejected"
}

func (p placement) bad() bool { return p.State == "failed" || p.State == "rejected" }

func getWork(ctx context.Context, c *client, id string) (workView, json.RawMessage, error) {
	var raw json.RawMessage
	var w workView
	if _, err := c.call(ctx, http.MethodGet, "/works/"+id, nil, nil, "", &raw); err != nil {
		return w, nil, err
	}
	err := json.Unmarshal(raw, &w)
	return w, raw, err
}

// describeCmd: stateward describe work ID [-o yaml|json]
func describeCmd(ctx context.Context, e cliEnv) error {
	if len(e.pos) != 2 || (e.pos[0] != "work" && e.pos[0] != "works") {
		return usageError("usage: stateward describe work ID")
	}
	if err := checkFlags(e.flags, append(remoteFlags, "output")...); err != nil {
		return exitError{code: exitUsage, err: err}
	}
	if _, err := strconv.ParseInt(e.pos[1], 10, 64); err != nil {
		return usageError("work ID %q: want a number", e.pos[1])
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	w, raw, err := getWork(ctx, c, e.pos[1])
	if err != nil {
		return err
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	if done, err := output(e, v); done {
		return err
	}
	out := e.stdout
	fmt.Fprintf(out, "Work:       %d\nName:       %s\nPromise:    %s\nResource:   %s\n", w.ID, w.Name, w.Promise, w.Resource)
	if w.Pipeline != "" {
		fmt.Fprintf(out, "Pipeline:   %s\n", w.Pipeline)
	}
	if w.Deleted {
		fmt.Fprintln(out, "Deleted:    yes (its files are removed)")
	}
	fmt.Fprintln(out, "Placements:")
	if len(w.Placements) == 0 {
		fmt.Fprintln(out, "  <none>")
	}
	for _, p := range w.Placements {
		state := p.State
		if p.Deleting {
			state += " (removing)"
		}
		fmt.Fprintf(out, "  %s\t%s", p.Destination, state)
		if p.Version != "" {
			fmt.Fprintf(out, "\tversion %s", p.Version)
		}
		fmt.Fprintln(out)
		if msg := or(p.Error, p.LastError); msg != "" {
			fmt.Fprintf(out, "    error: %s\n", msg)
		}
		for _, path := range p.Paths {
			fmt.Fprintf(out, "    %s\n", path)
		}
	}
	for _, u := range w.Unscheduled {
		fmt.Fprintf(out, "Waiting:    group %d: %s\n", u.Group, u.Reason)
	}
	return nil
}

// worksCmd: stateward works submit -f work.json [--wait] [--dry-run] | works delete ID [--wait]
func worksCmd(ctx context.Context, e cliEnv) error {
	usage := "usage: stateward works submit -f work.json|- [--dry-run] [--wait] [--timeout 10m] | stateward works delete ID [--wait]"
	if len(e.pos) < 1 {
		return usageError("%s", usage)
	}
	if err := checkFlags(e.flags, append(remoteFlags, "filename", "wait", "timeout", "dry-run")...); err != nil {
		return exitError{code: exitUsage, err: err}
	}
	timeout, err := durationFlag(e.flags, "timeout", 10*time.Minute)
	if err != nil {
		return err
	}
	switch {
	case e.pos[0] == "submit" && len(e.pos) == 1:
		return submitWork(ctx, e, timeout)
	case e.pos[0] == "delete" && len(e.pos) == 2:
		if _, err := strconv.ParseInt(e.pos[1], 10, 64); err != nil {
			return usageError("work ID %q: want a number", e.pos[1])
		}
		c, err := e.client()
		if err != nil {
			return err
		}
		var res submitAnswer
		if _, err := c.call(ctx, http.MethodDelete, "/works/"+e.pos[1], nil, nil, "", &res); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "work/%d deleted: removing its files from %d placement(s)\n", res.Work, len(res.Deletes)+len(res.Placements))
		if e.flags["wait"] == "true" {
			return waitWork(ctx, c, e, e.pos[1], timeout, false)
		}
		return nil
	}
	return usageError("%s", usage)
}

// submitAnswer is the answer of POST …/works and DELETE …/works/{id}.
type submitAnswer struct {
	Work       int64 `json:"work"`
	Placements []struct {
		Destination string   `json:"destination"`
		Paths       []string `json:"paths"`
	} `json:"placements"`
	Deletes     []json.RawMessage `json:"deletes"`
	Unscheduled []struct {
		Reason string `json:"reason"`
	} `json:"unscheduled"`
}

func submitWork(ctx context.Context, e cliEnv, timeout time.Duration) error {
	path := e.flags["filename"]
	var body []byte
	var err error
	switch path {
	case "":
		return usageError("works submit: -f work.json (or - for stdin) is required")
	case "-":
		body, err = io.ReadAll(e.stdin)
	default:
		body, err = os.ReadFile(path)
	}
	if err != nil {
		return usageError("-f: %v", err)
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	dry := e.flags["dry-run"] == "true"
	q := map[string][]string{}
	if dry {
		q["dryRun"] = []string{"true"}
	}
	var res submitAnswer
	if _, err := c.call(ctx, http.MethodPost, "/works", q, body, "application/json", &res); err != nil {
		return err
	}
	verb := "accepted"
	if dry {
		verb = "would be written (dry run)"
	}
	fmt.Fprintf(e.stdout, "work/%d %s\n", res.Work, verb)
	for _, p := range res.Placements {
		fmt.Fprintf(e.stdout, "  %s: %d file(s)\n", p.Destination, len(p.Paths))
	}
	for _, u := range res.Unscheduled {
		fmt.Fprintf(e.stdout, "  waiting: %s\n", u.Reason)
	}
	if dry || e.flags["wait"] != "true" {
		return nil
	}
	return waitWork(ctx, c, e, strconv.FormatInt(res.Work, 10), timeout, true)
}

// waitWork follows a Work until every placement is final (written, failed,
// rejected) — for a deletion, until its placements are gone — with a progress
// line on stderr whenever it changes. A failed or rejected placement, or a Work
// placed nowhere, exits 1.
func waitWork(ctx context.Context, c *client, e cliEnv, id string, timeout time.Duration, submitted bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		w, _, err := getWork(ctx, c, id)
		if err != nil {
			return waitEnded(ctx, err, id, timeout)
		}
		counts := map[string]int{}
		done := true
		for _, p := range w.Placements {
			counts[p.State]++
			done = done && p.final()
		}
		line := strings.TrimSpace(fmt.Sprintf("work/%s: %d placement(s) %s", id, len(w.Placements), countsLine(counts)))
		if line != last {
			fmt.Fprintln(e.stderr, line)
			last = line
		}
		if submitted && len(w.Placements) == 0 && len(w.Unscheduled) > 0 {
			for _, u := range w.Unscheduled {
				fmt.Fprintf(e.stderr, "  waiting: %s\n", u.Reason)
			}
			return exitWith(exitChanges, "work/%s is placed nowhere yet", id)
		}
		if done {
			return badPlacements(id, w.Placements)
		}
		select {
		case <-ctx.Done():
			return waitEnded(ctx, ctx.Err(), id, timeout)
		case <-tick.C:
		}
	}
}

func waitEnded(ctx context.Context, err error, id string, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return exitWith(exitTimedOut, "work/%s: not final after %s", id, timeout)
	}
	return err
}

// badPlacements is the exit of a wait whose placements are all final.
func badPlacements(id string, ps []placement) error {
	var bad []string
	for _, p := range ps {
		if p.bad() {
			bad = append(bad, fmt.Sprintf("  %s %s: %s", p.Destination, p.State, or(p.Error, p.LastError)))
		}
	}
	if len(bad) > 0 {
		return exitWith(exitChanges, "work/%s: %d placement(s) not written:\n%s", id, len(bad), strings.Join(bad, "\n"))
	}
	return nil
}

// exportCmd: stateward export > folder.yaml
func exportCmd(ctx context.Context, e cliEnv) error {
	if len(e.pos) != 0 {
		return usageError("usage: stateward export > folder.yaml")
	}
	if err := checkFlags(e.flags, remoteFlags...); err != nil {
		return exitError{code: exitUsage, err: err}
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	var b []byte
	if _, err := c.call(ctx, http.MethodGet, "/export", nil, nil, "", &b); err != nil {
		return err
	}
	_, err = e.stdout.Write(b)
	return err
}
