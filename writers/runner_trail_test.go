package writers

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// remoteGit runs git in the test Git server's bare repository.
func remoteGit(t testing.TB, srv *testpeers.GitServer, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = srv.Dir()
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// trailers parses the message of commit rev with `git interpret-trailers
// --parse`: the "Key: value" lines, in order.
func trailers(t testing.TB, srv *testpeers.GitServer, rev string) [][2]string {
	t.Helper()
	msg := remoteGit(t, srv, "", "log", "-1", "--format=%B", rev)
	var out [][2]string
	for _, line := range strings.Split(strings.TrimSpace(remoteGit(t, srv, msg, "interpret-trailers", "--parse")), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// submitAs submits req as actor (with the request's correlation id).
func (e *engine) submitAs(t testing.TB, req tenants.WorkRequest, actor tenants.Actor, correlation string) int64 {
	t.Helper()
	w, err := req.Work()
	if err != nil {
		t.Fatalf("work request: %v", err)
	}
	w.CorrelationID = correlation
	res, err := e.db.SubmitWorkAs(context.Background(), e.tenant, w, actor, tenants.WorkAction(w))
	if err != nil {
		t.Fatalf("SubmitWorkAs: %v", err)
	}
	if e.runner != nil {
		e.runner.Wake()
	}
	return res.Work
}

func (e *engine) person(t testing.TB, email, name string) tenants.Actor {
	t.Helper()
	u, err := e.db.UpsertUser(context.Background(), tenants.User{Issuer: "https://idp.example", Subject: email, Email: email, Name: name}, true)
	if err != nil {
		t.Fatal(err)
	}
	return tenants.Actor{Kind: tenants.ActorPerson, ID: u.ID, Name: email}
}

// trailStore registers srv as Git store "store" with the commit trail settings
// of edit, and a Destination on it.
func (e *engine) trailStore(t testing.TB, srv *testpeers.GitServer, edit func(*tenants.GitStateStore)) {
	t.Helper()
	s := tenants.GitStateStore{TenantID: e.tenant, Name: "store", URL: srv.URL(), Branch: srv.Branch(),
		Insecure: true, AuthorName: "Stateward Test", AuthorEmail: "sw@example.com",
		Credentials: tenants.GitCredentials{Username: testGitUser, Password: testGitPassword}}
	if edit != nil {
		edit(&s)
	}
	s.Normalize()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.SaveGitStore(context.Background(), s, false); err != nil {
		t.Fatal(err)
	}
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: tenants.KindGit, StoreName: "store"})
}

// TestCommitTrailersNameEveryRequester: the remote's git log names, for every
// Work of a commit, the Work with its page, who asked for it (person, token,
// trigger) and the request's correlation id, as trailers git parses.
func TestCommitTrailersNameEveryRequester(t *testing.T) {
	e := newEngine(t)
	srv := gitPeer(t, false)
	e.trailStore(t, srv, nil)
	alice := e.person(t, "alice@example.com", "Alice Doe")
	type request struct {
		id                int64
		by, correlationID string
	}
	reqs := []request{
		{e.submitAs(t, work("a", nil, "a.yaml", "a: 1\n"), alice, "idem-1"), "alice@example.com", "idem-1"},
		{e.submitAs(t, work("b", nil, "b.yaml", "b: 1\n"), tenants.Actor{Kind: tenants.ActorToken, ID: 9, Name: "ci-bot"}, ""), "ci-bot", ""},
		{e.submitAs(t, work("c", nil, "c.yaml", "c: 1\n"), tenants.Actor{Kind: tenants.ActorTrigger, ID: 3, Name: "github-push"}, "req-77"), "github-push", "req-77"},
	}
	e.start(t, func(r *Runner) { r.PublicURL = "https://sw.example.com/" })
	e.drain(t, 60*time.Second)

	want := map[string][2]string{} // "team-a/<work name> (<page>)" → requester, correlation id
	for _, r := range reqs {
		v, err := e.db.Work(context.Background(), e.tenant, r.id)
		if err != nil {
			t.Fatal(err)
		}
		want["team-a/"+v.Name+" (https://sw.example.com/t/team-a/works/"+strconv.FormatInt(r.id, 10)+")"] = [2]string{r.by, r.correlationID}
	}
	got := map[string][2]string{}
	for _, rev := range srv.Commits(t, srv.Branch()) {
		var work string
		for _, kv := range trailers(t, srv, rev) {
			switch kv[0] {
			case "Stateward-Work":
				work = kv[1]
				got[work] = [2]string{}
			case "Requested-By":
				got[work] = [2]string{kv[1], got[work][1]}
			case "Correlation-Id":
				got[work] = [2]string{got[work][0], kv[1]}
			}
		}
	}
	for w, v := range want {
		if got[w] != v {
			t.Errorf("git log says %s was requested by %q (correlation %q), want %q (%q)", w, got[w][0], got[w][1], v[0], v[1])
		}
	}
	if len(got) != len(want) {
		t.Errorf("trailers name Works %v, want %d", got, len(want))
	}
}

// jiraHook refuses every pushed commit whose message has no Jira key.
const jiraHook = `#!/bin/sh
while read old new ref; do
  if ! git log -1 --format=%B "$new" | grep -q 'JIRA-[0-9]'; then
    echo "commit $new: the message must name a Jira issue (JIRA-123)" >&2
    exit 1
  fi
done
exit 0
`

// TestCommitMessageTemplateSatisfiesJiraHook: a pre-receive hook that wants a
// Jira key refuses the default message, and accepts the commits of a store
// whose spec.commitMessage takes the key from a Work label.
func TestCommitMessageTemplateSatisfiesJiraHook(t *testing.T) {
	e := newEngine(t)
	srv := gitPeer(t, false)
	srv.SetPreReceive(jiraHook)
	e.trailStore(t, srv, nil)
	alice := e.person(t, "alice@example.com", "")
	req := work("a", nil, "a.yaml", "a: 1\n")
	req.Labels = map[string]string{"jira": "JIRA-42"}
	id := e.submitAs(t, req, alice, "")
	e.start(t, nil)
	testpeers.WaitFor(t, 60*time.Second, func() (bool, string) {
		p := e.placement(t, id)
		return p.State == tenants.StateFailed && strings.Contains(p.Error, "must name a Jira issue"), p.State + ": " + p.Error
	})

	e.trailStore(t, srv, func(s *tenants.GitStateStore) {
		s.CommitMessage = `{{index (index .Works 0).Labels "jira"}}: {{.Summary}}

Requested for {{range .Works}}{{.Name}} by {{.RequestedBy}} {{end}}`
	})
	req.Files[0].Content = "a: 2\n" // submitted again: the refused content is retried
	e.submitAs(t, req, alice, "")
	e.drain(t, 60*time.Second)
	msg := remoteGit(t, srv, "", "log", "-1", "--format=%B", srv.Branch())
	subject, _, _ := strings.Cut(msg, "\n")
	if want := "JIRA-42: Update from: redis-a-default-"; !strings.HasPrefix(subject, want) {
		t.Errorf("subject %q, want it to start with %q", subject, want)
	}
	if !strings.Contains(msg, "\n\nRequested for redis-a-default-") || !strings.Contains(msg, " by alice@example.com") {
		t.Errorf("the template's body is missing:\n%s", msg)
	}
	if tr := trailers(t, srv, srv.Branch()); !slices.Contains(tr, [2]string{"Requested-By", "alice@example.com"}) {
		t.Errorf("trailers after the template: %v, want Requested-By", tr)
	}
}

// TestAuthorFromRequester: with spec.authorFromRequester, one person's Works are
// committed with that person as author (the bot committing); two people's with
// the bot as author and each person as Co-authored-by; a token's with the bot.
func TestAuthorFromRequester(t *testing.T) {
	type want struct {
		author, committer string
		coAuthors         []string
	}
	tests := []struct {
		name   string
		actors func(e *engine) []tenants.Actor
		want   want
	}{
		{"one person", func(e *engine) []tenants.Actor {
			a := e.person(t, "alice@example.com", "Alice Doe")
			return []tenants.Actor{a, a}
		}, want{"Alice Doe <alice@example.com>", "Stateward Test <sw@example.com>", nil}},
		{"two people", func(e *engine) []tenants.Actor {
			return []tenants.Actor{e.person(t, "alice@example.com", "Alice Doe"), e.person(t, "bob@example.com", "")}
		}, want{"Stateward Test <sw@example.com>", "Stateward Test <sw@example.com>",
			[]string{"Alice Doe <alice@example.com>", "bob <bob@example.com>"}}},
		{"a token", func(e *engine) []tenants.Actor {
			tok := tenants.Actor{Kind: tenants.ActorToken, ID: 4, Name: "ci-bot"}
			return []tenants.Actor{tok, tok}
		}, want{"Stateward Test <sw@example.com>", "Stateward Test <sw@example.com>", nil}},
		{"a person and a token", func(e *engine) []tenants.Actor {
			return []tenants.Actor{e.person(t, "alice@example.com", "Alice Doe"), {Kind: tenants.ActorToken, ID: 4, Name: "ci-bot"}}
		}, want{"Stateward Test <sw@example.com>", "Stateward Test <sw@example.com>", []string{"Alice Doe <alice@example.com>"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t)
			srv := gitPeer(t, false)
			e.trailStore(t, srv, func(s *tenants.GitStateStore) { s.AuthorFromRequester = true })
			before := len(srv.Commits(t, srv.Branch()))
			for i, a := range tt.actors(e) {
				name := string(rune('a' + i))
				e.submitAs(t, work(name, nil, name+".yaml", "x: 1\n"), a, "")
			}
			e.start(t, nil)
			e.drain(t, 60*time.Second)
			if n := len(srv.Commits(t, srv.Branch())) - before; n != 1 {
				t.Fatalf("%d commits, want the Works in one", n)
			}
			who := strings.Split(strings.TrimSpace(remoteGit(t, srv, "", "log", "-1", "--format=%an <%ae>%n%cn <%ce>", srv.Branch())), "\n")
			if who[0] != tt.want.author || who[1] != tt.want.committer {
				t.Errorf("author %q, committer %q; want %q, %q", who[0], who[1], tt.want.author, tt.want.committer)
			}
			var co []string
			for _, kv := range trailers(t, srv, srv.Branch()) {
				if kv[0] == "Co-authored-by" {
					co = append(co, kv[1])
				}
			}
			if !slices.Equal(co, tt.want.coAuthors) {
				t.Errorf("Co-authored-by %q, want %q", co, tt.want.coAuthors)
			}
		})
	}
}

// TestTrailersBounded: a commit of many Works names the first 20 and says how
// many more there are, and still names who asked for the others.
func TestTrailersBounded(t *testing.T) {
	jb := &jobBatch{works: map[int64]*batchWork{}}
	for i := range 25 {
		by := "ci"
		if i >= 22 {
			by = "late-" + strconv.Itoa(i)
		}
		jb.addWork(tenants.PlacementWrite{Destination: "dst", Work: tenants.WorkTrail{ID: int64(i + 1), Team: "t",
			Name: "default/w" + strconv.Itoa(100+i), Requester: tenants.Requester{Kind: tenants.ActorToken, By: by}}})
	}
	jb.batch.Message = "Update 25 placements"
	if err := (commitTrail{job: &tenants.Job{}}).describe(jb); err != nil {
		t.Fatal(err)
	}
	works := strings.Count(jb.batch.Message, "\nStateward-Work: ")
	if works != maxTrailerWorks || !strings.Contains(jb.batch.Message, "\nStateward-Works: and 5 more\n") {
		t.Errorf("%d Stateward-Work trailers (want %d) and no \"and 5 more\" in\n%s", works, maxTrailerWorks, jb.batch.Message)
	}
	for _, by := range []string{"late-22", "late-23", "late-24"} {
		if !strings.Contains(jb.batch.Message, "\nRequested-By: "+by+"\n") {
			t.Errorf("the requester %s of a Work past the first 20 is not named:\n%s", by, jb.batch.Message)
		}
	}
	if n := strings.Count(jb.batch.Message, "\nRequested-By: ci\n"); n != maxTrailerWorks {
		t.Errorf("%d Requested-By: ci, want one per named Work (%d) and none again", n, maxTrailerWorks)
	}
}

// TestBucketObjectsSayWhoAsked: every object Stateward puts carries the Work
// (team/name) and its requester as metadata; an aggregatedYAML object, which
// holds several Works, lists them; and so does an object a re-assert puts back
// (its placements read after the claim, as a Git store's), which reads the
// Works' trails for that only: a re-assert that puts nothing reads none.
func TestBucketObjectsSayWhoAsked(t *testing.T) {
	e := newEngine(t)
	s3 := testpeers.MinIO(t)
	bucket := e.bucketStore(t, s3, "store", "st")
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: tenants.KindBucket, StoreName: "store",
		Labels: map[string]string{"kind": "plain"}})
	e.destination(t, tenants.Destination{Name: "agg", Path: "g", StoreKind: tenants.KindBucket, StoreName: "store",
		Labels: map[string]string{"kind": "agg"}, Mode: tenants.ModeAggregated})
	alice := e.person(t, "alice@example.com", "Alice")
	a := e.submitAs(t, work("a", map[string]string{"kind": "plain"}, "a.yaml", "a: 1\n"), alice, "")
	b := e.submitAs(t, work("b", map[string]string{"kind": "agg"}, "b.yaml", "b: 1\n"), alice, "")
	c := e.submitAs(t, work("c", map[string]string{"kind": "agg"}, "c.yaml", "c: 1\n"), tenants.Actor{Kind: tenants.ActorToken, ID: 2, Name: "ci-bot"}, "")
	reads, reassert := startCountingTrails(t, e)

	name := func(id int64) string {
		v, err := e.db.Work(context.Background(), e.tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		return "team-a/" + v.Name
	}
	want := map[string][2]string{} // key → work, requested-by
	for _, p := range e.placement(t, a).Paths {
		want[p] = [2]string{name(a), "alice@example.com"}
	}
	aggKey := e.placement(t, b).Paths[0]
	want[aggKey] = [2]string{name(b) + ", " + name(c), "alice@example.com, ci-bot"}
	if len(want) < 2 {
		t.Fatalf("placements wrote %v", want)
	}
	check := func(when string) {
		t.Helper()
		for key, w := range want {
			info, err := s3.Client().StatObject(context.Background(), bucket, key, minio.StatObjectOptions{})
			if err != nil {
				t.Fatalf("%s: stat %s: %v", when, key, err)
			}
			got := [2]string{info.UserMetadata["Stateward-Work"], info.UserMetadata["Stateward-Requested-By"]}
			if got != w {
				t.Errorf("%s: %s: metadata work %q, requested-by %q; want %q, %q (all: %v)", when, key, got[0], got[1], w[0], w[1], info.UserMetadata)
			}
		}
	}
	check("written")
	trailsBefore := reads.trails.Load()
	reassert()
	if n := reads.trails.Load() - trailsBefore; n != 0 {
		t.Errorf("a re-assert that put nothing read the Works' trails %d times, want 0", n)
	}
	for key := range want {
		if err := s3.Client().RemoveObject(context.Background(), bucket, key, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	reassert()
	check("put back by a re-assert")
	if n := reads.trails.Load() - trailsBefore; n != 1 {
		t.Errorf("the re-assert that put objects back read the Works' trails %d times, want once", n)
	}
}

// TestSignedCommitWithRequesterAuthor: a commit authored by the requester
// (Batch.Author) and committed by the store's identity still verifies.
func TestSignedCommitWithRequesterAuthor(t *testing.T) {
	private, public := signingKey(t, "", nil)
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, func(c *GitConfig) {
		c.SigningKey = private
		c.Now = time.Now
	})
	apply(t, g, Batch{Message: "one", Puts: []File{{Key: "a.yaml", Content: []byte("1")}}, Author: &Person{Name: "Alice Doe", Email: "alice@example.com"}})
	gpg := testpeers.NewGPG(t)
	gpg.Import(t, public)
	head := srv.Head(t, srv.Branch())
	if out, err := srv.VerifyCommit(gpg, head); err != nil || !strings.Contains(out, "GOODSIG") {
		t.Errorf("git verify-commit of a commit authored by the requester: %v\n%s", err, out)
	}
	who := strings.TrimSpace(remoteGit(t, srv, "", "log", "-1", "--format=%an <%ae>|%cn <%ce>", head))
	if author, committer, _ := strings.Cut(who, "|"); author != "Alice Doe <alice@example.com>" || committer == author {
		t.Errorf("author %q, committer %q; want Alice as author and the store's identity as committer", author, committer)
	}
}

// startCountingTrails starts e's runner counting its trail reads, drains what
// is queued, and returns the counts and a func that re-asserts the one store
// and waits for its job to finish.
func startCountingTrails(t *testing.T, e *engine) (*trailReads, func()) {
	t.Helper()
	reads := &trailReads{}
	e.start(t, func(r *Runner) { reads.JobStore = r.DB; r.DB = reads })
	e.drain(t, time.Minute)
	return reads, func() {
		t.Helper()
		before := reads.finished.Load()
		if n, err := e.runner.DB.RequeueAll(context.Background()); err != nil || n != 1 {
			t.Fatalf("RequeueAll: %d, %v", n, err)
		}
		e.runner.Wake()
		testpeers.WaitFor(t, time.Minute, func() (bool, string) {
			return reads.finished.Load() > before, "the re-assert job has not finished"
		})
	}
}

// trailReads counts a Runner's JobTrails calls and finished jobs.
type trailReads struct {
	JobStore
	trails, finished atomic.Int64
}

func (c *trailReads) JobTrails(ctx context.Context, job *tenants.Job) error {
	c.trails.Add(1)
	return c.JobStore.JobTrails(ctx, job)
}

func (c *trailReads) FinishJob(ctx context.Context, job *tenants.Job, res tenants.JobResult) error {
	defer c.finished.Add(1)
	return c.JobStore.FinishJob(ctx, job, res)
}

// TestReassertReadsTrailsOnlyForACommit: a re-assert that finds the store as
// written reads none of its Works' trails (5,000 a store at a million Works);
// one that finds a file changed commits the repair with every Work's trailers,
// who asked for it included, as a write does.
func TestReassertReadsTrailsOnlyForACommit(t *testing.T) {
	e := newEngine(t)
	srv := gitPeer(t, false)
	e.trailStore(t, srv, nil)
	alice := e.person(t, "alice@example.com", "Alice Doe")
	for _, name := range []string{"a", "b", "c"} {
		e.submitAs(t, work(name, nil, name+".yaml", name+": 1\n"), alice, "idem-"+name)
	}
	reads, reassert := startCountingTrails(t, e)
	commits := srv.CommitCount(t, srv.Branch())
	trailsBefore := reads.trails.Load()
	reassert()
	if n := srv.CommitCount(t, srv.Branch()); n != commits {
		t.Fatalf("a re-assert of an unchanged store made %d commits", n-commits)
	}
	if n := reads.trails.Load() - trailsBefore; n != 0 {
		t.Errorf("a re-assert that changed nothing read the Works' trails %d times, want 0", n)
	}

	var key string
	for k := range srv.Files(t, srv.Branch()) {
		if strings.HasSuffix(k, "/a.yaml") {
			key = k
		}
	}
	if key == "" {
		t.Fatalf("no a.yaml in %v", srv.Files(t, srv.Branch()))
	}
	srv.PushOutside(t, key, "tampered\n")
	reassert()
	if got := srv.Files(t, srv.Branch())[key]; got != "a: 1\n" {
		t.Fatalf("after the re-assert %s holds %q, want it repaired", key, got)
	}
	if n := reads.trails.Load() - trailsBefore; n != 1 {
		t.Errorf("the repairing re-assert read the trails %d times, want once", n)
	}
	revs := srv.Commits(t, srv.Branch())
	tr := trailers(t, srv, revs[0])
	var works, requesters int
	for _, kv := range tr {
		switch {
		case kv[0] == "Stateward-Work":
			works++
		case kv[0] == "Requested-By" && kv[1] == "alice@example.com":
			requesters++
		}
	}
	if works != 3 || requesters != 3 {
		t.Errorf("the repair commit's trailers %v: %d Works, %d Requested-By alice; want 3 and 3\n%s", tr, works, requesters,
			remoteGit(t, srv, "", "log", "-3", "--format=%H %an%n%B"))
	}
}
