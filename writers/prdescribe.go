package writers

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stateward/stateward/forge"
	"github.com/stateward/stateward/tenants"
)

// prText is what a store's pull request says.
type prText struct {
	Title, Body string
}

// describe writes the title and body of a store's pull request from what it
// carries: per Destination the Works and the files added, changed and removed,
// and each Work with a link to its page and who requested it. A body longer
// than the host takes is summarised per Destination (with the requesters
// counted) instead.
func describe(s tenants.GitStateStore, slug, baseURL string, props []tenants.Proposal, lim forge.Limits) prText {
	type destSum struct {
		works                   map[int64]bool
		added, changed, removed int
	}
	dests := map[string]*destSum{}
	type workSum struct {
		name, by string
		dests    []string
		del      bool
	}
	works := map[int64]*workSum{}
	for _, p := range props {
		d := dests[p.Destination]
		if d == nil {
			d = &destSum{works: map[int64]bool{}}
			dests[p.Destination] = d
		}
		d.works[p.WorkID] = true
		switch {
		case p.Delete:
			d.removed += p.Files
		case p.New:
			d.added += p.Files
		default:
			d.changed += p.Files
		}
		w := works[p.WorkID]
		if w == nil {
			w = &workSum{name: p.Work, by: p.RequestedBy}
			works[p.WorkID] = w
		}
		w.del = w.del || p.Delete
		if !slices.Contains(w.dests, p.Destination) {
			w.dests = append(w.dests, p.Destination)
		}
	}
	destNames := slices.Sorted(maps.Keys(dests))
	title := fmt.Sprintf("Stateward: %s to %s", count(len(works), "Work"), count(len(dests), "Destination"))
	if len(works) == 1 {
		for _, w := range works {
			title = fmt.Sprintf("Stateward: %s to %s", w.name, strings.Join(w.dests, ", "))
		}
	}
	if len(props) == 0 {
		title = "Stateward: nothing left to propose"
	}
	title = clip(title, lim.Title)

	var head strings.Builder
	fmt.Fprintf(&head, "Proposed by [Stateward](%s) for team `%s`, GitStateStore `%s`: merging writes it to `%s`, "+
		"where the clusters read it. Stateward updates this pull request as Works arrive; do not push to `%s`.\n\n",
		strings.TrimRight(baseURL, "/")+"/t/"+slug, slug, s.Name, s.Branch, s.HeadBranch())
	head.WriteString("| Destination | Works | files added | changed | removed |\n|---|---:|---:|---:|---:|\n")
	for _, n := range destNames {
		d := dests[n]
		fmt.Fprintf(&head, "| `%s` | %d | %d | %d | %d |\n", n, len(d.works), d.added, d.changed, d.removed)
	}
	ids := slices.SortedFunc(maps.Keys(works), func(a, b int64) int {
		return cmp.Or(strings.Compare(works[a].name, works[b].name), cmp.Compare(a, b))
	})
	var list strings.Builder
	list.WriteString("\n### Works\n\n")
	for _, id := range ids {
		w := works[id]
		verb := "on"
		if w.del {
			verb = "removed from"
		}
		fmt.Fprintf(&list, "- [%s](%s/t/%s/works/%d) %s %s", w.name, strings.TrimRight(baseURL, "/"), slug, id, verb,
			"`"+strings.Join(w.dests, "`, `")+"`")
		if w.by != "" {
			fmt.Fprintf(&list, ", requested by %s", w.by)
		}
		list.WriteString("\n")
	}
	body := head.String() + list.String()
	if lim.Body > 0 && len([]rune(body)) > lim.Body {
		// Too long for the host: who asked, counted, instead of every Work.
		by := map[string]int{}
		for _, w := range works {
			by[cmp.Or(w.by, "unknown")]++
		}
		var sum strings.Builder
		fmt.Fprintf(&sum, "\n%s in all; the list is too long for this page: each Work's page in Stateward shows its files. Requested by ", count(len(works), "Work"))
		names := slices.SortedFunc(maps.Keys(by), func(a, b string) int { return cmp.Or(cmp.Compare(by[b], by[a]), strings.Compare(a, b)) })
		for i, n := range names {
			if i > 0 {
				sum.WriteString(", ")
			}
			if i == 20 {
				fmt.Fprintf(&sum, "and %d more", len(names)-i)
				break
			}
			fmt.Fprintf(&sum, "%s (%d)", n, by[n])
		}
		sum.WriteString(".\n")
		body = clip(head.String()+sum.String(), lim.Body)
	}
	return prText{Title: title, Body: body}
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// clip cuts s to at most n characters (n <= 0: no limit).
func clip(s string, n int) string {
	r := []rune(s)
	if n <= 0 || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
