package db

import (
	"slices"
	"testing"
)

func TestCarried(t *testing.T) {
	for _, c := range []struct {
		chain []string
		head  string
		want  []string
	}{
		{[]string{"a", "b", "c"}, "b", []string{"a", "b"}},
		{[]string{"a", "b", "c"}, "x", []string{"a", "b", "c"}},           // someone else's commit on top: all of ours
		{[]string{"a", "b", "|", "c", "d"}, "c", []string{"a", "b", "c"}}, // the rebuilt head carries the old proposals
		{[]string{"a", "b", "|", "c", "d"}, "b", []string{"a", "b"}},      // the old head was merged
		{[]string{"a", "b", "|", "c"}, "x", []string{"a", "b"}},           // a person's commit on the old head: not the rebuild
		{[]string{"a", "|", "b", "|", "c"}, "x", []string{"a", "b"}},
	} {
		if got := carried(c.chain, c.head); !slices.Equal(got, c.want) {
			t.Errorf("carried(%v, %s) = %v, want %v", c.chain, c.head, got, c.want)
		}
	}
}
