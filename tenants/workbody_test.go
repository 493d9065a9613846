package tenants

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeWorkRequest(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		syntax    bool   // want *SyntaxError
		wantField string // want a validation error on this field
	}{
		{"ok", `{"promise":"redis","files":[{"path":"a.yaml","content":"x"}]}`, false, ""},
		{"ok with everything", `{"promise":"redis","resource":{"namespace":"default","name":"r"},"pipeline":"p",
			"workloadGroups":[{"directory":".","destinationSelectors":{"env":"dev"},"files":[{"path":"a","content":""}]}],"delete":false}`, false, ""},
		{"null values are absent", `{"promise":"redis","resource":null,"files":null}`, false, ""},
		{"malformed", `{"promise":`, true, ""},
		{"not JSON", `promise: redis`, true, ""},
		{"empty body", ``, true, ""},
		{"trailing data", `{"promise":"redis"} {}`, true, ""},
		{"not an object", `["redis"]`, false, ""},
		{"unknown top-level field", `{"promise":"redis","promis":"x"}`, false, "promis"},
		{"unknown nested field", `{"promise":"r","workloadGroups":[{"files":[]},{"fils":[]}]}`, false, "workloadGroups[1].fils"},
		{"unknown file field", `{"promise":"r","files":[{"path":"a","contnet":"x"}]}`, false, "files[0].contnet"},
		{"wrong type", `{"promise":"r","workloadGroups":[{"files":[{"path":1}]}]}`, false, "workloadGroups[0].files[0].path"},
		{"selector value not a string", `{"promise":"r","destinationSelectors":{"env":true}}`, false, "destinationSelectors[env]"},
		{"delete not a bool", `{"promise":"r","delete":"yes"}`, false, "delete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeWorkRequest(strings.NewReader(tt.body))
			var se *SyntaxError
			if got := errors.As(err, &se); got != tt.syntax {
				t.Fatalf("err %v: syntax error = %v, want %v", err, got, tt.syntax)
			}
			if tt.syntax {
				return
			}
			var ves ValidationErrors
			var ve *ValidationError
			switch {
			case tt.name == "not an object":
				if !errors.As(err, &ve) {
					t.Fatalf("err %v, want a validation error", err)
				}
			case tt.wantField == "":
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
			case !errors.As(err, &ves) || ves.For(tt.wantField) == "":
				t.Fatalf("err %v, want one on field %q", err, tt.wantField)
			}
		})
	}
}

func file(p string) WorkFile { return WorkFile{Path: p, Content: "c"} }

func TestWorkRequestWork(t *testing.T) {
	res := &ResourceRef{Namespace: "default", Name: "my-request"}
	grp := func(dir string, files ...string) WorkloadGroup {
		g := WorkloadGroup{Directory: dir}
		for _, f := range files {
			g.Files = append(g.Files, file(f))
		}
		return g
	}
	manyGroups := make([]WorkloadGroup, MaxWorkGroups+1)
	for i := range manyGroups {
		manyGroups[i] = grp(fmt.Sprintf("d%d", i), fmt.Sprintf("d%d/f", i))
	}
	manyFiles := grp(".")
	for i := range MaxWorkFiles + 1 {
		manyFiles.Files = append(manyFiles.Files, file(fmt.Sprintf("f%d", i)))
	}
	tests := []struct {
		name      string
		req       WorkRequest
		wantField string // "" = valid
	}{
		{"dependency", WorkRequest{Promise: "redis", Files: []WorkFile{file("a.yaml")}}, ""},
		{"resource with pipeline", WorkRequest{Promise: "redis", Resource: res, Pipeline: "instance-configure", Files: []WorkFile{file("a")}}, ""},
		{"promise required", WorkRequest{Files: []WorkFile{file("a")}}, "promise"},
		// A Promise's name is a DNS-1123 subdomain (a cluster-scoped Kubernetes object)
		// of at most 63 characters (the kratix.io/promise-name label,
		// lib/resourceutil/work.go GetWorkLabels).
		{"promise is lower case", WorkRequest{Promise: "Redis", Files: []WorkFile{file("a")}}, "promise"},
		{"promise may hold dots", WorkRequest{Promise: "redis.v2", Files: []WorkFile{file("a")}}, ""},
		{"promise 63 characters", WorkRequest{Promise: strings.Repeat("p", 63), Files: []WorkFile{file("a")}}, ""},
		{"promise 64 characters", WorkRequest{Promise: strings.Repeat("p", 64), Files: []WorkFile{file("a")}}, "promise"},
		{"promise ends in a dot", WorkRequest{Promise: "redis.", Files: []WorkFile{file("a")}}, "promise"},
		{"promise with an underscore", WorkRequest{Promise: "redis_v2", Files: []WorkFile{file("a")}}, "promise"},
		{"promise with an empty segment", WorkRequest{Promise: "redis..v2", Files: []WorkFile{file("a")}}, "promise"},
		{"namespace required", WorkRequest{Promise: "r", Resource: &ResourceRef{Name: "x"}, Files: []WorkFile{file("a")}}, "resource.namespace"},
		{"namespace is a label", WorkRequest{Promise: "r", Resource: &ResourceRef{Namespace: "a.b", Name: "x"}, Files: []WorkFile{file("a")}}, "resource.namespace"},
		{"name required", WorkRequest{Promise: "r", Resource: &ResourceRef{Namespace: "a"}, Files: []WorkFile{file("a")}}, "resource.name"},
		{"name may be a subdomain", WorkRequest{Promise: "r", Resource: &ResourceRef{Namespace: "a", Name: "x.y"}, Files: []WorkFile{file("a")}}, ""},
		{"bad pipeline", WorkRequest{Promise: "r", Pipeline: "a_b", Files: []WorkFile{file("a")}}, "pipeline"},
		{"shorthand mixed with groups", WorkRequest{Promise: "r", Files: []WorkFile{file("a")}, WorkloadGroups: []WorkloadGroup{grp(".", "b")}}, "workloadGroups"},
		{"selectors-only shorthand mixed with groups", WorkRequest{Promise: "r", DestinationSelectors: L{"a": "b"}, WorkloadGroups: []WorkloadGroup{grp(".", "b")}}, "workloadGroups"},
		{"no groups", WorkRequest{Promise: "r"}, "workloadGroups"},
		{"no groups but delete", WorkRequest{Promise: "r", Delete: true}, ""},
		{"group without files", WorkRequest{Promise: "r", WorkloadGroups: []WorkloadGroup{grp("."), grp("x", "x/a")}}, "workloadGroups[0].files"},
		{"group without files but delete", WorkRequest{Promise: "r", Delete: true, WorkloadGroups: []WorkloadGroup{grp(".")}}, ""},
		{"bad selector key", WorkRequest{Promise: "r", DestinationSelectors: L{"a b": "c"}, Files: []WorkFile{file("a")}}, "destinationSelectors"},
		{"bad selector value", WorkRequest{Promise: "r", WorkloadGroups: []WorkloadGroup{{Directory: ".", DestinationSelectors: L{"a": "b c"}, Files: []WorkFile{file("a")}}}}, "workloadGroups[0].destinationSelectors"},
		{"file under its group", WorkRequest{Promise: "r", WorkloadGroups: []WorkloadGroup{grp("foo", "foo/a", "foo/b/c")}}, ""},
		{"file outside its group", WorkRequest{Promise: "r", WorkloadGroups: []WorkloadGroup{grp("."), grp("foo", "foo/a", "bar/a")}}, "workloadGroups[1].files[1].path"},
		{"file equal to its group dir", WorkRequest{Promise: "r", WorkloadGroups: []WorkloadGroup{grp("foo", "foo")}}, "workloadGroups[0].files[0].path"},
		{"prefix is not a directory", WorkRequest{Promise: "r", WorkloadGroups: []WorkloadGroup{grp("foo", "foobar/a")}}, "workloadGroups[0].files[0].path"},
		{"dot dot", WorkRequest{Promise: "r", Files: []WorkFile{file("a/../../b")}}, "files[0].path"},
		{"leading slash", WorkRequest{Promise: "r", Files: []WorkFile{file("/etc/passwd")}}, "files[0].path"},
		{"backslash", WorkRequest{Promise: "r", Files: []WorkFile{file(`a\b`)}}, "files[0].path"},
		{"NUL", WorkRequest{Promise: "r", Files: []WorkFile{file("a\x00b")}}, "files[0].path"},
		{"newline", WorkRequest{Promise: "r", Files: []WorkFile{file("a\nb")}}, "files[0].path"},
		{".git", WorkRequest{Promise: "r", Files: []WorkFile{file(".git/config")}}, "files[0].path"},
		{".GIT any case", WorkRequest{Promise: "r", Files: []WorkFile{file("x/.Git/hooks/pre-commit")}}, "files[0].path"},
		{".gitignore is fine", WorkRequest{Promise: "r", Files: []WorkFile{file(".gitignore"), file("a/.github/x")}}, ""},
		{"unclean double slash", WorkRequest{Promise: "r", Files: []WorkFile{file("a//b")}}, "files[0].path"},
		{"unclean dot", WorkRequest{Promise: "r", Files: []WorkFile{file("./a")}}, "files[0].path"},
		{"trailing slash", WorkRequest{Promise: "r", Files: []WorkFile{file("a/")}}, "files[0].path"},
		{"empty path", WorkRequest{Promise: "r", Files: []WorkFile{file("")}}, "files[0].path"},
		{"duplicate file", WorkRequest{Promise: "r", Files: []WorkFile{file("a"), file("b"), file("a")}}, "files[2].path"},
		{"file and directory clash", WorkRequest{Promise: "r", Files: []WorkFile{file("a/b"), file("a")}}, "files[1].path"},
		{"directory and file clash", WorkRequest{Promise: "r", Files: []WorkFile{file("a"), file("a/b")}}, "files[1].path"},
		{"same file in two groups is fine", WorkRequest{Promise: "r", WorkloadGroups: []WorkloadGroup{grp(".", "a/b"), grp("a", "a/b")}}, ""},
		{"duplicate directories", WorkRequest{Promise: "r", WorkloadGroups: []WorkloadGroup{grp("", "a"), grp(".", "b")}}, "workloadGroups[1].directory"},
		{"bad directory", WorkRequest{Promise: "r", WorkloadGroups: []WorkloadGroup{grp("../x", "../x/a")}}, "workloadGroups[0].directory"},
		{"unclean directory", WorkRequest{Promise: "r", WorkloadGroups: []WorkloadGroup{grp("foo/", "foo/a")}}, "workloadGroups[0].directory"},
		{"absolute directory", WorkRequest{Promise: "r", WorkloadGroups: []WorkloadGroup{grp("/foo", "/foo/a")}}, "workloadGroups[0].directory"},
		{"too many groups", WorkRequest{Promise: "r", WorkloadGroups: manyGroups}, "workloadGroups"},
		{"too many files", WorkRequest{Promise: "r", WorkloadGroups: []WorkloadGroup{manyFiles}}, "files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := tt.req.Work()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if w == nil || len(w.Groups) == 0 && !tt.req.Delete {
					t.Fatalf("got work %+v", w)
				}
				return
			}
			var ves ValidationErrors
			if !errors.As(err, &ves) || ves.For(tt.wantField) == "" {
				t.Fatalf("err %v, want one on field %q", err, tt.wantField)
			}
			if w != nil {
				t.Errorf("got a Work with an error")
			}
		})
	}
}

func TestWorkRequestWorkNormalizes(t *testing.T) {
	req := WorkRequest{Promise: "redis", Resource: &ResourceRef{Namespace: "default", Name: "my-request"},
		Pipeline: "configure", DestinationSelectors: L{"env": "dev"}, Files: []WorkFile{file("redis.yaml")}}
	w, err := req.Work()
	if err != nil {
		t.Fatal(err)
	}
	want := []WorkloadGroup{{Directory: ".", DestinationSelectors: L{"env": "dev"}, Files: []WorkFile{file("redis.yaml")}}}
	if !reflect.DeepEqual(w.Groups, want) {
		t.Errorf("groups %+v, want %+v", w.Groups, want)
	}
	req.Resource.Name = "changed"
	req.DestinationSelectors["env"] = "changed"
	if w.Resource.Name != "my-request" || w.Groups[0].DestinationSelectors["env"] != "dev" {
		t.Errorf("the Work shares memory with the request: %+v", w)
	}
}

func TestWorkRequestErrorsAreCapped(t *testing.T) {
	req := WorkRequest{Promise: "r"}
	for range 100 {
		req.Files = append(req.Files, file("/abs"))
	}
	_, err := req.Work()
	var ves ValidationErrors
	if !errors.As(err, &ves) || len(ves) != maxShapeErrors+1 || !strings.Contains(err.Error(), "and 80 more") {
		t.Errorf("got %d errors: %v", len(ves), err)
	}
}

func TestWorkName(t *testing.T) {
	tests := []struct {
		w    Work
		want string
	}{
		// Kratix's field order (work-creator/lib/work_creator.go buildWorkIdentifier),
		// suffix md5(identifier)[:5] (lib/objectutil/name.go)
		{Work{Promise: "redis"}, "redis-static-deps-be4f2"},
		{Work{Promise: "redis", Pipeline: "install"}, "redis-install-c124c"},
		{Work{Promise: "redis", Resource: &ResourceRef{Namespace: "default", Name: "my-request"}}, "redis-my-request-default-277bd"},
		{Work{Promise: "redis", Resource: &ResourceRef{Namespace: "default", Name: "my-request"}, Pipeline: "configure"}, "redis-my-request-default-configure-3f5b5"},
	}
	for _, tt := range tests {
		if got := tt.w.Name(); got != tt.want {
			t.Errorf("Name() = %q, want %q", got, tt.want)
		}
	}
}

func FuzzWorkRequest(f *testing.F) {
	f.Add(`{"promise":"redis","files":[{"path":"a.yaml","content":"x"}]}`)
	f.Add(`{"promise":"redis","resource":{"namespace":"default","name":"r"},"workloadGroups":[{"directory":"foo","files":[{"path":"foo/a"}]}]}`)
	f.Add(`{"promise":"p","files":[{"path":"a/../b"},{"path":".GIT/x"}],"delete":true}`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeWorkRequest(strings.NewReader(body))
		if err != nil {
			return
		}
		w, err := req.Work()
		if err != nil {
			return
		}
		for _, g := range w.Groups {
			for _, p := range append([]string{g.Directory}, filePaths(g.Files)...) {
				if strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || strings.Contains(p, "\x00") {
					t.Fatalf("accepted path %q", p)
				}
				for _, seg := range strings.Split(p, "/") {
					if seg == ".." || strings.EqualFold(seg, ".git") {
						t.Fatalf("accepted path %q", p)
					}
				}
			}
			for _, p := range filePaths(g.Files) {
				if g.Directory != "." && !strings.HasPrefix(p, g.Directory+"/") {
					t.Fatalf("accepted %q outside directory %q", p, g.Directory)
				}
			}
		}
	})
}

func filePaths(files []WorkFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}
