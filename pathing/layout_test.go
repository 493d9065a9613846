package pathing

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func files(paths ...string) []File {
	out := make([]File, len(paths))
	for i, p := range paths {
		out[i] = File{Path: p, Content: []byte("content of " + p)}
	}
	return out
}

// keyed returns output files whose content is that of the input file in.
func keyed(pairs ...string) []File {
	out := make([]File, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, File{Path: pairs[i], Content: []byte("content of " + pairs[i+1])})
	}
	return out
}

const placement = "redis-default-my-request.worker-1-5058f"

var (
	deps      = Group{Promise: "redis"}
	resources = Group{Promise: "redis", Namespace: "default", Resource: "my-request"}
)

func with(g Group, pipeline, dir string, paths ...string) Group {
	g.Pipeline, g.Directory, g.Files = pipeline, dir, files(paths...)
	return g
}

func TestLayoutNested(t *testing.T) {
	tests := []struct {
		name        string
		store, path string
		g           Group
		wantFiles   []File
		wantOwned   string
	}{
		{"dependencies/root-dot", "", ".", with(deps, "", "", "a.yaml"),
			keyed("dependencies/redis/5058f/a.yaml", "a.yaml"), "dependencies/redis/5058f/"},
		{"dependencies/pipeline/root-slash", "", "/", with(deps, "promise-configure", ".", "a.yaml"),
			keyed("dependencies/redis/promise-configure/5058f/a.yaml", "a.yaml"),
			"dependencies/redis/promise-configure/5058f/"},
		{"dependencies/static/root-empty", "", "", with(deps, "", "", "static/redis-dependencies.yaml"),
			keyed("dependencies/redis/5058f/static/redis-dependencies.yaml", "static/redis-dependencies.yaml"),
			"dependencies/redis/5058f/"},
		{"dependencies/subdirectory/store-path", "destinations", ".", with(deps, "", "foo", "foo/b.yaml", "foo/a.yaml"),
			keyed("destinations/dependencies/redis/acbd1/foo/a.yaml", "foo/a.yaml",
				"destinations/dependencies/redis/acbd1/foo/b.yaml", "foo/b.yaml"),
			"destinations/dependencies/redis/acbd1/"},
		{"dependencies/pipeline/subdirectory/nested-paths", "/s/", "/d/e/", with(deps, "p", "foo/bar/", "foo/bar/x.yaml"),
			keyed("s/d/e/dependencies/redis/p/82d0f/foo/bar/x.yaml", "foo/bar/x.yaml"),
			"s/d/e/dependencies/redis/p/82d0f/"},
		{"resources/root-empty", "", "", with(resources, "", "", "redis.yaml"),
			keyed("resources/default/redis/my-request/5058f/redis.yaml", "redis.yaml"),
			"resources/default/redis/my-request/5058f/"},
		{"resources/pipeline/nested-paths", "destinations", "dev/eu", with(resources, "instance-configure", ".", "redis.yaml"),
			keyed("destinations/dev/eu/resources/default/redis/my-request/instance-configure/5058f/redis.yaml", "redis.yaml"),
			"destinations/dev/eu/resources/default/redis/my-request/instance-configure/5058f/"},
		{"resources/subdirectory/root-slash", "", "/", with(resources, "", "foo", "foo/x.yaml", "foo/sub/y.yaml"),
			keyed("resources/default/redis/my-request/acbd1/foo/sub/y.yaml", "foo/sub/y.yaml",
				"resources/default/redis/my-request/acbd1/foo/x.yaml", "foo/x.yaml"),
			"resources/default/redis/my-request/acbd1/"},
		{"resources/pipeline/subdirectory/dest-path", "", "dev", with(resources, "p", "./foo", "./foo//x.yaml"),
			keyed("dev/resources/default/redis/my-request/p/acbd1/foo/x.yaml", "./foo//x.yaml"),
			"dev/resources/default/redis/my-request/p/acbd1/"},
		{"resources/no-files", "", ".", with(resources, "", ""),
			[]File{}, "resources/default/redis/my-request/5058f/"},
	}
	for _, mode := range []Mode{"", ModeNested} {
		for _, tt := range tests {
			t.Run(string(mode)+"/"+tt.name, func(t *testing.T) {
				d := Destination{Name: "worker-1", Path: tt.path, Mode: mode}
				got, err := Layout(tt.store, d, placement, tt.g)
				if err != nil {
					t.Fatalf("Layout: got error %v, want nil", err)
				}
				want := Plan{Files: tt.wantFiles, OwnedPrefix: tt.wantOwned}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("Layout:\ngot  %s\nwant %s", show(got), show(want))
				}
			})
		}
	}
}

func TestLayoutLegacy(t *testing.T) {
	tests := []struct {
		name        string
		store, path string
		g           Group
		wantFiles   []File
		wantOwned   string
	}{
		// The seed page's examples, verbatim.
		{"seed-page/dependencies", "", ".", with(deps, "", "", "static/dependencies.yaml"),
			keyed("worker-cluster/dependencies/redis/static/dependencies.yaml", "static/dependencies.yaml"),
			"worker-cluster/dependencies/redis/"},
		{"seed-page/resources", "", ".", with(resources, "", "", "redis.yaml"),
			keyed("worker-cluster/resources/default/redis/my-request/redis.yaml", "redis.yaml"),
			"worker-cluster/resources/default/redis/my-request/"},
		{"dependencies/pipeline-ignored/root-slash", "", "/", with(deps, "promise-configure", "", "a.yaml"),
			keyed("worker-cluster/dependencies/redis/a.yaml", "a.yaml"), "worker-cluster/dependencies/redis/"},
		{"resources/pipeline-ignored/nested-paths", "destinations", "dev", with(resources, "instance-configure", "", "redis.yaml"),
			keyed("destinations/dev/worker-cluster/resources/default/redis/my-request/redis.yaml", "redis.yaml"),
			"destinations/dev/worker-cluster/resources/default/redis/my-request/"},
		{"resources/subdirectory/root-empty", "", "", with(resources, "", "foo", "foo/x.yaml"),
			keyed("worker-cluster/resources/default/redis/my-request/foo/x.yaml", "foo/x.yaml"),
			"worker-cluster/resources/default/redis/my-request/"},
		{"dependencies/subdirectory/store-path", "s", ".", with(deps, "", "foo", "foo/x.yaml"),
			keyed("s/worker-cluster/dependencies/redis/foo/x.yaml", "foo/x.yaml"), "s/worker-cluster/dependencies/redis/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Destination{Name: "worker-cluster", Path: tt.path, Mode: ModeLegacy}
			got, err := Layout(tt.store, d, placement, tt.g)
			if err != nil {
				t.Fatalf("Layout: got error %v, want nil", err)
			}
			want := Plan{Files: tt.wantFiles, OwnedPrefix: tt.wantOwned}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Layout:\ngot  %s\nwant %s", show(got), show(want))
			}
		})
	}
}

func TestLayoutNone(t *testing.T) {
	tests := []struct {
		name        string
		store, path string
		g           Group
		wantFiles   []File
		wantState   File
	}{
		{"dependencies/root-dot", "", ".", with(deps, "", "", "b.yaml", "a.yaml"),
			keyed("a.yaml", "a.yaml", "b.yaml", "b.yaml"),
			File{".kratix/kratix-platform-system-" + placement + ".yaml", []byte("files:\n- b.yaml\n- a.yaml\n")}},
		{"dependencies/pipeline/root-slash", "", "/", with(deps, "p", "", "a.yaml"),
			keyed("a.yaml", "a.yaml"),
			File{".kratix/kratix-platform-system-" + placement + ".yaml", []byte("files:\n- /a.yaml\n")}},
		{"resources/subdirectory/nested-paths", "s", "d/e", with(resources, "p", "foo", "foo/x.yaml"),
			keyed("s/d/e/foo/x.yaml", "foo/x.yaml"),
			File{"s/d/e/.kratix/default-" + placement + ".yaml", []byte("files:\n- d/e/foo/x.yaml\n")}},
		{"resources/root-empty/quoted-names", "", "", with(resources, "", "", "true", "1.yaml", "a b.yaml", "x: y", "Ünï.yaml"),
			keyed("1.yaml", "1.yaml", "a b.yaml", "a b.yaml", "true", "true", "x: y", "x: y", "Ünï.yaml", "Ünï.yaml"),
			File{".kratix/default-" + placement + ".yaml",
				[]byte("files:\n- \"true\"\n- 1.yaml\n- a b.yaml\n- 'x: y'\n- Ünï.yaml\n")}},
		{"resources/no-files", "", ".", with(resources, "", ""),
			[]File{}, File{".kratix/default-" + placement + ".yaml", []byte("files: []\n")}},
		{"kratix-like-names-allowed", "", ".", with(deps, "", "", ".kratixx/a", "sub/.kratix/b"),
			keyed(".kratixx/a", ".kratixx/a", "sub/.kratix/b", "sub/.kratix/b"),
			File{".kratix/kratix-platform-system-" + placement + ".yaml", []byte("files:\n- .kratixx/a\n- sub/.kratix/b\n")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Layout(tt.store, Destination{Path: tt.path, Mode: ModeNone}, placement, tt.g)
			if err != nil {
				t.Fatalf("Layout: got error %v, want nil", err)
			}
			want := Plan{Files: tt.wantFiles, StateFile: &tt.wantState}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Layout:\ngot  %s\nwant %s", show(got), show(want))
			}
		})
	}
}

func TestLayoutAggregated(t *testing.T) {
	g := resources
	g.Files = []File{
		{Path: "b.yaml", Content: []byte("b: 1\n---\n\n---\nb: 2\n")},
		{Path: "./a.yaml", Content: []byte("---\na: 1\n")},
	}
	// whole files, in the Work's order, paths cleaned
	wantFiles := []File{{"b.yaml", []byte("b: 1\n---\n\n---\nb: 2\n")}, {"a.yaml", []byte("---\na: 1\n")}}
	tests := []struct {
		name, store, path, filename, wantTarget string
	}{
		{"default-filename/root-dot", "", ".", "", "aggregated.yaml"},
		{"default-filename/root-slash", "", "/", "", "aggregated.yaml"},
		{"custom-filename/nested-paths", "s", "d/e", "out/all.yaml", "s/d/e/out/all.yaml"},
		{"custom-filename/clean", "", "", "./all.yaml", "all.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Destination{Path: tt.path, Mode: ModeAggregated, Filename: tt.filename}
			got, err := Layout(tt.store, d, placement, g)
			if err != nil {
				t.Fatalf("Layout: got error %v, want nil", err)
			}
			want := Plan{Aggregate: &AggregatePart{Placement: placement, Files: wantFiles}, Target: tt.wantTarget}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Layout:\ngot  %s\nwant %s", show(got), show(want))
			}
		})
	}
}

func TestPlanKeys(t *testing.T) {
	g := with(resources, "", "", "b.yaml", "a.yaml")
	got, err := Layout("", Destination{Path: ".", Mode: ModeNone}, "p", g)
	if err != nil {
		t.Fatalf("Layout: %v", err)
	}
	want := []string{"a.yaml", "b.yaml", ".kratix/default-p.yaml"}
	if !reflect.DeepEqual(got.Keys(), want) {
		t.Errorf("Keys() = %q, want %q", got.Keys(), want)
	}
}

func TestLayoutRejects(t *testing.T) {
	long := strings.Repeat("x", 256)
	tests := []struct {
		name      string
		store     string
		d         Destination
		placement string
		g         Group
		wantField string
		wantValue string
	}{
		{"file/dotdot", "", Destination{Path: "."}, placement, with(deps, "", "", "../x"), FieldFile, "../x"},
		{"file/inner-dotdot", "", Destination{Path: "."}, placement, with(deps, "", "", "a/../../x"), FieldFile, "a/../../x"},
		{"file/harmless-dotdot", "", Destination{Path: "."}, placement, with(deps, "", "", "a/../b"), FieldFile, "a/../b"},
		{"file/absolute", "", Destination{Path: "."}, placement, with(deps, "", "", "/etc/passwd"), FieldFile, "/etc/passwd"},
		{"file/backslash", "", Destination{Path: "."}, placement, with(deps, "", "", `..\x`), FieldFile, `..\x`},
		{"file/nul", "", Destination{Path: "."}, placement, with(deps, "", "", "a\x00.yaml"), FieldFile, "a\x00.yaml"},
		{"file/control", "", Destination{Path: "."}, placement, with(deps, "", "", "a\x1b[31m"), FieldFile, "a\x1b[31m"},
		{"file/newline", "", Destination{Path: "."}, placement, with(deps, "", "", "a\nb"), FieldFile, "a\nb"},
		{"file/zero-width", "", Destination{Path: "."}, placement, with(deps, "", "", ".g\u200cit/config"), FieldFile, ".g\u200cit/config"},
		{"file/invalid-utf8", "", Destination{Path: "."}, placement, with(deps, "", "", "a\xff"), FieldFile, "a\xff"},
		{"file/empty", "", Destination{Path: "."}, placement, with(deps, "", "", ""), FieldFile, ""},
		{"file/dot", "", Destination{Path: "."}, placement, with(deps, "", "", "./."), FieldFile, "./."},
		{"file/trailing-slash", "", Destination{Path: "."}, placement, with(deps, "", "", "a/"), FieldFile, "a/"},
		{"file/git", "", Destination{Path: "."}, placement, with(deps, "", "", ".git/config"), FieldFile, ".git/config"},
		{"file/GIT", "", Destination{Path: "."}, placement, with(deps, "", "", ".GIT/config"), FieldFile, ".GIT/config"},
		{"file/Git-nested", "", Destination{Path: "."}, placement, with(deps, "", "", "x/.Git/hooks/pre-commit"), FieldFile, "x/.Git/hooks/pre-commit"},
		{"file/git-trailing-dot", "", Destination{Path: "."}, placement, with(deps, "", "", ".git./config"), FieldFile, ".git./config"},
		{"file/git-trailing-space", "", Destination{Path: "."}, placement, with(deps, "", "", ".git /config"), FieldFile, ".git /config"},
		{"file/git-short-name", "", Destination{Path: "."}, placement, with(deps, "", "", "GIT~1/config"), FieldFile, "GIT~1/config"},
		{"file/long-segment", "", Destination{Path: "."}, placement, with(deps, "", "", long), FieldFile, long},
		{"file/long-key", "", Destination{Path: "."}, placement, with(deps, "", "", strings.Repeat("abcdefgh/", 120)+"x"), FieldFile, strings.Repeat("abcdefgh/", 120) + "x"},
		{"file/outside-directory", "", Destination{Path: "."}, placement, with(deps, "", "foo", "bar/x.yaml"), FieldFile, "bar/x.yaml"},
		{"file/is-directory", "", Destination{Path: "."}, placement, with(deps, "", "foo", "foo"), FieldFile, "foo"},
		{"file/prefix-not-directory", "", Destination{Path: "."}, placement, with(deps, "", "foo", "foobar/x"), FieldFile, "foobar/x"},
		{"file/duplicate", "", Destination{Path: "."}, placement, with(deps, "", "", "a.yaml", "./a.yaml"), FieldFile, "./a.yaml"},
		{"file/inside-file", "", Destination{Path: "."}, placement, with(deps, "", "", "a/b", "a"), FieldFile, "a/b"},
		{"none/kratix-dir", "", Destination{Path: ".", Mode: ModeNone}, placement, with(deps, "", "", ".kratix/x.yaml"), FieldFile, ".kratix/x.yaml"},
		{"none/KRATIX-dir", "", Destination{Path: ".", Mode: ModeNone}, placement, with(deps, "", "", "./.KRATIX/x.yaml"), FieldFile, "./.KRATIX/x.yaml"},
		{"none/canary-file", "", Destination{Path: "d", Mode: ModeNone}, placement, with(deps, "", "", "kratix-canary-namespace.yaml"), FieldFile, "kratix-canary-namespace.yaml"},
		{"none/under-canary-file", "", Destination{Path: "d", Mode: ModeNone}, placement, with(deps, "", "", "kratix-canary-configmap.yaml/x"), FieldFile, "kratix-canary-configmap.yaml/x"},
		{"nested/promise-is-canary", "", Destination{Path: "."}, placement, with(Group{Promise: "kratix-canary-namespace.yaml"}, "", "", "a"), FieldFile, "a"},
		{"aggregated/filename-dotdot", "", Destination{Path: ".", Mode: ModeAggregated, Filename: "../all.yaml"}, placement, with(deps, "", "", "a"), FieldFilename, "../all.yaml"},
		{"aggregated/filename-absolute", "", Destination{Path: ".", Mode: ModeAggregated, Filename: "/all.yaml"}, placement, with(deps, "", "", "a"), FieldFilename, "/all.yaml"},
		{"aggregated/filename-git", "", Destination{Path: ".", Mode: ModeAggregated, Filename: ".git/all.yaml"}, placement, with(deps, "", "", "a"), FieldFilename, ".git/all.yaml"},
		{"aggregated/filename-canary", "", Destination{Path: ".", Mode: ModeAggregated, Filename: "kratix-canary-configmap.yaml"}, placement, with(deps, "", "", "a"), FieldFilename, "kratix-canary-configmap.yaml"},
		{"store-path/dotdot", "..", Destination{Path: "."}, placement, with(deps, "", "", "a"), FieldStorePath, ".."},
		{"store-path/git", "repo/.git", Destination{Path: "."}, placement, with(deps, "", "", "a"), FieldStorePath, "repo/.git"},
		{"destination-path/dotdot", "s", Destination{Path: "a/../../b"}, placement, with(deps, "", "", "a"), FieldDestPath, "a/../../b"},
		{"destination-path/backslash", "s", Destination{Path: `a\b`}, placement, with(deps, "", "", "a"), FieldDestPath, `a\b`},
		{"destination-path/nul", "s", Destination{Path: "a\x00"}, placement, with(deps, "", "", "a"), FieldDestPath, "a\x00"},
		{"mode/unknown", "", Destination{Path: ".", Mode: "flat"}, placement, with(deps, "", "", "a"), FieldMode, "flat"},
		{"legacy/no-destination-name", "", Destination{Path: ".", Mode: ModeLegacy}, placement, with(deps, "", "", "a"), FieldDestName, ""},
		{"legacy/destination-name-dotdot", "", Destination{Name: "..", Path: ".", Mode: ModeLegacy}, placement, with(deps, "", "", "a"), FieldDestName, ".."},
		{"legacy/destination-name-slash", "", Destination{Name: "a/b", Path: ".", Mode: ModeLegacy}, placement, with(deps, "", "", "a"), FieldDestName, "a/b"},
		{"placement/empty", "", Destination{Path: "."}, "", with(deps, "", "", "a"), FieldPlacement, ""},
		{"placement/slash", "", Destination{Path: ".", Mode: ModeNone}, "../p", with(deps, "", "", "a"), FieldPlacement, "../p"},
		{"placement/too-long", "", Destination{Path: ".", Mode: ModeNone}, strings.Repeat("p", 240), with(deps, "", "", "a"), FieldPlacement, strings.Repeat("p", 240)},
		{"promise/empty", "", Destination{Path: "."}, placement, with(Group{}, "", "", "a"), FieldPromise, ""},
		{"promise/slash", "", Destination{Path: "."}, placement, with(Group{Promise: "a/b"}, "", "", "a"), FieldPromise, "a/b"},
		{"promise/dotdot", "", Destination{Path: "."}, placement, with(Group{Promise: ".."}, "", "", "a"), FieldPromise, ".."},
		{"promise/dot", "", Destination{Path: "."}, placement, with(Group{Promise: "."}, "", "", "a"), FieldPromise, "."},
		{"promise/git", "", Destination{Path: "."}, placement, with(Group{Promise: ".Git"}, "", "", "a"), FieldPromise, ".Git"},
		{"namespace/missing", "", Destination{Path: "."}, placement, with(Group{Promise: "redis", Resource: "r"}, "", "", "a"), FieldNamespace, ""},
		{"resource/missing", "", Destination{Path: "."}, placement, with(Group{Promise: "redis", Namespace: "default"}, "", "", "a"), FieldResource, ""},
		{"resource/dotdot", "", Destination{Path: "."}, placement, with(Group{Promise: "redis", Namespace: "default", Resource: ".."}, "", "", "a"), FieldResource, ".."},
		{"pipeline/dotdot-slash", "", Destination{Path: "."}, placement, with(deps, "../x", "", "a"), FieldPipeline, "../x"},
		{"directory/absolute", "", Destination{Path: "."}, placement, with(deps, "", "/foo", "foo/a"), FieldDirectory, "/foo"},
		{"directory/dotdot", "", Destination{Path: "."}, placement, with(deps, "", "../foo", "a"), FieldDirectory, "../foo"},
		{"directory/git", "", Destination{Path: "."}, placement, with(deps, "", ".git", ".git/a"), FieldDirectory, ".git"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Layout(tt.store, tt.d, tt.placement, tt.g)
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Fatalf("Layout: got plan %s, error %v; want a *PathError", show(got), err)
			}
			if pe.Field != tt.wantField || pe.Value != tt.wantValue {
				t.Errorf("Layout: got error field %q value %q (%v), want field %q value %q",
					pe.Field, pe.Value, err, tt.wantField, tt.wantValue)
			}
			if !reflect.DeepEqual(got, Plan{}) {
				t.Errorf("Layout: got plan %s with the error, want the zero Plan", show(got))
			}
		})
	}
}

func TestPathErrorMessage(t *testing.T) {
	_, err := Layout("", Destination{Path: "."}, placement, with(deps, "", "", "../x"))
	want := `file "../x": path escapes the destination directory`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	long := (&PathError{Field: FieldFile, Value: strings.Repeat("é", 300), Reason: "r"}).Error()
	if len(long) > 450 || !strings.HasSuffix(long, `…": r`) {
		t.Errorf("long value error = %q (%d bytes), want it shortened", long, len(long))
	}
}

// show renders a plan with string contents for failure messages.
func show(p Plan) string {
	var b strings.Builder
	b.WriteString("{Files:[")
	for _, f := range p.Files {
		b.WriteString(f.Path + "=" + string(f.Content) + " ")
	}
	b.WriteString("] Owned:" + p.OwnedPrefix)
	if p.StateFile != nil {
		b.WriteString(" State:" + p.StateFile.Path + "=" + string(p.StateFile.Content))
	}
	if p.Aggregate != nil {
		b.WriteString(" Aggregate:" + p.Aggregate.Placement + "[")
		for _, f := range p.Aggregate.Files {
			b.WriteString(f.Path + "=" + string(f.Content) + " ")
		}
		b.WriteString("]")
	}
	return b.String() + " Target:" + p.Target + "}"
}

// TestPlanClaims: Claims is the one list of a plan's keys; Keys and OwnKeys are
// its parts.
func TestPlanClaims(t *testing.T) {
	plan := Plan{Files: []File{{Path: "s/d/a.yaml"}, {Path: "s/d/b.yaml"}}, OwnedPrefix: "s/d/",
		StateFile: &File{Path: "s/.kratix/x.yaml"}, Target: "s/agg.yaml"}
	want := []Claim{{Key: "s/d/a.yaml"}, {Key: "s/d/b.yaml"}, {Key: "s/.kratix/x.yaml"}, {Key: "s/d", Dir: true}, {Key: "s/agg.yaml", Shared: true}}
	if got := plan.Claims(); !reflect.DeepEqual(got, want) {
		t.Errorf("Claims() = %+v, want %+v", got, want)
	}
	if got, want := plan.Keys(), []string{"s/d/a.yaml", "s/d/b.yaml", "s/.kratix/x.yaml", "s/agg.yaml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Keys() = %q, want %q", got, want)
	}
	if got, want := plan.OwnKeys(), []string{"s/d/a.yaml", "s/d/b.yaml", "s/.kratix/x.yaml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("OwnKeys() = %q, want %q", got, want)
	}
}
