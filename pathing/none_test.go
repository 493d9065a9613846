package pathing

import (
	"errors"
	"slices"
	"testing"
)

func TestParseStateFile(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"kratix", "files:\n- test-path/fruit.yaml\n- test-path/file2.yaml\n", []string{"test-path/fruit.yaml", "test-path/file2.yaml"}},
		{"empty", "files: []\n", []string{}},
		{"no files key", "{}\n", []string{}},
		{"leading slash dropped", "files:\n- /fruit.yaml\n", []string{"fruit.yaml"}},
		{"quoted", "files:\n- \"true\"\n- 'x: y'\n- a b.yaml\n", []string{"true", "x: y", "a b.yaml"}},
		{"cleaned", "files:\n- ./d//a.yaml\n", []string{"d/a.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStateFile([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseStateFile: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseStateFile = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseStateFileRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not yaml":      "files: [",
		"not a list":    "files: a.yaml\n",
		"escapes":       "files:\n- ../a.yaml\n",
		"escapes later": "files:\n- d/../../a.yaml\n",
		"git dir":       "files:\n- .git/config\n",
		"empty entry":   "files:\n- \"\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseStateFile([]byte(in))
			var pe *PathError
			if !errors.As(err, &pe) || pe.Field != FieldStateFile {
				t.Errorf("ParseStateFile(%q) = %q, %v; want a *PathError for %q", in, got, err, FieldStateFile)
			}
		})
	}
}

func TestStateFileRoundTrip(t *testing.T) {
	g := Group{Promise: "redis", Namespace: "default", Resource: "r",
		Files: []File{{Path: "z.yaml"}, {Path: "true"}, {Path: "a b/c: d.yaml"}, {Path: "Ünï.yaml"}}}
	d := Destination{Path: "dev/eu", Mode: ModeNone}
	plan, err := Layout("clusters", d, "p", g)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := StateFileKeys("clusters", d, plan.StateFile.Content)
	if err != nil {
		t.Fatalf("StateFileKeys: %v", err)
	}
	want := []string{"clusters/dev/eu/z.yaml", "clusters/dev/eu/true", "clusters/dev/eu/a b/c: d.yaml", "clusters/dev/eu/Ünï.yaml"}
	if !slices.Equal(keys, want) {
		t.Errorf("StateFileKeys = %q, want %q (the Work's order)", keys, want)
	}
}

func TestStateFileKeysOutsideDestination(t *testing.T) {
	// A state file written before Stateward followed Kratix listed paths relative to
	// S/D; read as Kratix's format they point outside the Destination.
	_, err := StateFileKeys("s", Destination{Path: "dev"}, []byte("files:\n- a.yaml\n"))
	var pe *PathError
	if !errors.As(err, &pe) || pe.Field != FieldStateFile || pe.Value != "a.yaml" {
		t.Errorf("StateFileKeys: got %v, want a *PathError for stateFile \"a.yaml\"", err)
	}
	if _, err := StateFileKeys("s", Destination{Path: "."}, []byte("files:\n- a.yaml\n")); err != nil {
		t.Errorf("StateFileKeys on the store root: %v", err)
	}
}

func FuzzParseStateFile(f *testing.F) {
	f.Add([]byte("files:\n- test-path/fruit.yaml\n"))
	f.Add([]byte("files: []\n"))
	f.Add([]byte("files:\n- /../x\n"))
	f.Fuzz(func(t *testing.T, content []byte) {
		paths, err := ParseStateFile(content)
		if err != nil {
			return
		}
		for _, p := range paths {
			if clean, err := CleanFile(p); err != nil || clean != p {
				t.Fatalf("ParseStateFile gave %q, which is not a clean safe path (%v)", p, err)
			}
		}
	})
}
