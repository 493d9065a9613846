package writers

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stateward/stateward/tenants"
)

// message names what the Batch changes, as Kratix does for one placement
// ("Update from: <placement>", "Delete from: <placement>") and as a summary for
// several.
func (jb *jobBatch) message() string {
	names := append(slices.Clone(jb.writes), jb.deletes...)
	slices.Sort(names)
	names = slices.Compact(names)
	switch {
	case len(names) == 1 && len(jb.writes) == 1:
		return "Update from: " + names[0]
	case len(names) == 1:
		return "Delete from: " + names[0]
	case len(names) > 1:
		return fmt.Sprintf("Update %d placements: %s", len(names), summarize(names, 3))
	}
	return "Update canary files of: " + summarize(jb.canaryDests, 3)
}

// summarize lists the first n names and says how many more there are.
func summarize(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// batchWork is one Work a Batch writes or removes, and where.
type batchWork struct {
	trail   tenants.WorkTrail
	dests   []string
	deleted bool // every placement of it in the Batch is a removal
}

// addWork records that the Batch writes (or removes) w's Work on w's Destination.
func (jb *jobBatch) addWork(w tenants.PlacementWrite) {
	bw := jb.works[w.Work.ID]
	if bw == nil {
		bw = &batchWork{trail: w.Work, deleted: true}
		jb.works[w.Work.ID] = bw
	}
	if !slices.Contains(bw.dests, w.Destination) {
		bw.dests = append(bw.dests, w.Destination)
		slices.Sort(bw.dests)
	}
	bw.deleted = bw.deleted && w.Delete
}

// fillTrails gives the Batch's Works the trails job's writes now carry (read
// after the Batch was built: Job.TrailsLater).
func (jb *jobBatch) fillTrails(job *tenants.Job) {
	for _, w := range job.Writes {
		if bw := jb.works[w.Work.ID]; bw != nil {
			bw.trail = w.Work
		}
	}
}

// objectMetas is the metadata of the objects keys that name Works whose trails
// were read after the Batch was built (putFor, fillTrails).
func (jb *jobBatch) objectMetas(keys []string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, k := range keys {
		ids, ok := jb.metaWorks[k]
		if !ok {
			continue
		}
		trails := make([]tenants.WorkTrail, 0, len(ids))
		for _, id := range ids {
			if bw := jb.works[id]; bw != nil {
				trails = append(trails, bw.trail)
			}
		}
		out[k] = objectMetaOf(trails)
	}
	return out
}

// Bounds of what a commit and an object say of their Works.
const (
	maxTrailerWorks = 20 // Works with trailers in one commit; then "Stateward-Works: and N more"
	maxMetaWorks    = 10 // Works named in one object's metadata
	maxMetaValue    = 1024
)

// commitTrail is what the job's commit says beyond the Batch: the subject and
// body (the store's template, or the default message), the trailers, and the
// author when the requester authors it.
type commitTrail struct {
	job       *tenants.Job
	publicURL string
}

// describe sets the Batch's message (subject and body, then the trailers) and
// author. A template that fails on this commit (a Work without the label it
// indexes, say) leaves the default subject; the error is returned for the log.
func (ct commitTrail) describe(jb *jobBatch) error {
	works := jb.sortedWorks()
	if len(works) == 0 {
		return nil // canary files only: nobody asked
	}
	var tmplErr error
	msg := jb.batch.Message
	if ct.job.CommitMessage != "" {
		t, err := tenants.ParseCommitMessage(ct.job.CommitMessage)
		if err == nil {
			var out string
			if out, err = tenants.RenderCommitMessage(t, ct.data(jb, works)); err == nil {
				msg = out
			}
		}
		tmplErr = err
	}
	trailers := ct.trailers(works)
	if ct.job.AuthorFromRequester {
		author, coAuthors := requesterAuthor(works)
		jb.batch.Author = author
		trailers = append(trailers, coAuthors...)
	}
	jb.batch.Message = msg + "\n\n" + strings.Join(trailers, "\n") + "\n"
	return tmplErr
}

// sortedWorks are the Batch's Works in name order.
func (jb *jobBatch) sortedWorks() []*batchWork {
	out := slices.Collect(maps.Values(jb.works))
	slices.SortFunc(out, func(a, b *batchWork) int {
		if c := strings.Compare(a.trail.Name, b.trail.Name); c != 0 {
			return c
		}
		return int(a.trail.ID - b.trail.ID)
	})
	return out
}

// workURL is a Work's dashboard page, "" without a public URL.
func (ct commitTrail) workURL(w tenants.WorkTrail) string {
	if ct.publicURL == "" || w.Team == "" {
		return ""
	}
	return fmt.Sprintf("%s/t/%s/works/%d", strings.TrimRight(ct.publicURL, "/"), w.Team, w.ID)
}

// data is what the store's template sees (tenants.CommitMessageData).
func (ct commitTrail) data(jb *jobBatch, works []*batchWork) tenants.CommitMessageData {
	d := tenants.CommitMessageData{Store: ct.job.Store.Name, Summary: jb.batch.Message}
	var dests []string
	for _, bw := range works {
		w := bw.trail
		d.Team = w.Team
		d.Works = append(d.Works, tenants.CommitWork{Name: w.Name, Promise: w.Promise, Labels: nonNilMap(w.Labels),
			RequestedBy: w.Requester.By, RequesterName: w.Requester.Name, CorrelationID: w.CorrelationID,
			URL: ct.workURL(w), Destinations: bw.dests, Deleted: bw.deleted})
		dests = append(dests, bw.dests...)
	}
	slices.Sort(dests)
	d.Destinations = slices.Compact(dests)
	return d
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// trailers are the git interpret-trailers lines naming each Work of the commit,
// who asked for it and the request's correlation id, for at most
// maxTrailerWorks Works; past them, "Stateward-Works: and N more" and a
// Requested-By for each other requester of those (at most maxTrailerWorks
// more), so that the log names who asked for every Work of the commit.
func (ct commitTrail) trailers(works []*batchWork) []string {
	var out []string
	named := map[string]bool{}
	for i, bw := range works {
		if i == maxTrailerWorks {
			out = append(out, fmt.Sprintf("Stateward-Works: and %d more", len(works)-maxTrailerWorks))
			extra := 0
			for _, rest := range works[i:] {
				by := rest.trail.Requester.By
				if by == "" || named[by] || extra == maxTrailerWorks {
					continue
				}
				named[by] = true
				extra++
				out = append(out, "Requested-By: "+trailerValue(by))
			}
			break
		}
		w := bw.trail
		work := w.Team + "/" + w.Name
		if u := ct.workURL(w); u != "" {
			work += " (" + u + ")"
		}
		out = append(out, "Stateward-Work: "+trailerValue(work))
		if w.Requester.By != "" {
			out = append(out, "Requested-By: "+trailerValue(w.Requester.By))
			named[w.Requester.By] = true
		}
		if w.CorrelationID != "" {
			out = append(out, "Correlation-Id: "+trailerValue(w.CorrelationID))
		}
	}
	return out
}

// requesterAuthor is the commit's author when one person asked for every Work
// of it; otherwise no author (the store's identity) and a Co-authored-by
// trailer per person, in the order of the Works.
func requesterAuthor(works []*batchWork) (*Person, []string) {
	var people []Person
	everyone := true
	for _, bw := range works {
		r := bw.trail.Requester
		if !r.Person() {
			everyone = false
			continue
		}
		p := Person{Name: personName(r), Email: r.By}
		if !slices.ContainsFunc(people, func(q Person) bool { return strings.EqualFold(q.Email, p.Email) }) {
			people = append(people, p)
		}
	}
	if everyone && len(people) == 1 {
		return &people[0], nil
	}
	var co []string
	for i, p := range people {
		if i == maxTrailerWorks {
			break
		}
		co = append(co, "Co-authored-by: "+trailerValue(p.Name)+" <"+trailerValue(p.Email)+">")
	}
	return nil, co
}

// personName is a requester's display name, or the local part of their email.
func personName(r tenants.Requester) string {
	if n := strings.TrimSpace(r.Name); n != "" && !strings.ContainsAny(n, "<>") {
		return n
	}
	name, _, _ := strings.Cut(r.By, "@")
	return name
}

// trailerValue keeps a trailer on its one line.
func trailerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// objectMetaOf is the bucket metadata of an object that holds the files of
// works (an aggregatedYAML file): each Work (team/name) and who asked for it,
// the first maxMetaWorks of them, then "and N more". Values are ASCII, as HTTP
// headers must be.
func objectMetaOf(works []tenants.WorkTrail) map[string]string {
	if len(works) == 0 || works[0].Name == "" {
		return nil
	}
	var names, by []string
	for i, w := range works {
		if i == maxMetaWorks {
			more := fmt.Sprintf("and %d more", len(works)-maxMetaWorks)
			names, by = append(names, more), append(by, more)
			break
		}
		names = append(names, w.Team+"/"+w.Name)
		by = append(by, w.Requester.By)
	}
	return map[string]string{
		"stateward-work":         metaValue(strings.Join(names, ", ")),
		"stateward-requested-by": metaValue(strings.Join(slices.Compact(by), ", ")),
	}
}

// metaValue makes s a header value: printable ASCII (others become '?'), at
// most maxMetaValue bytes.
func metaValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
	if len(s) > maxMetaValue {
		s = s[:maxMetaValue]
	}
	return s
}
