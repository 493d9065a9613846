package tenants

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckJSONText(t *testing.T) {
	cases := []struct {
		name, body, field, msg string
	}{
		{"clean", `{"promise":"p","workloadGroups":[{"files":[{"path":"a","content":"é ✓ \ufffd"}]}]}`, "", ""},
		{"invalid utf-8 content", "{\"promise\":\"p\",\"files\":[{\"path\":\"a\",\"content\":\"x\xffy\"}]}", "files[0].content", "invalid UTF-8"},
		{"invalid utf-8 path", "{\"workloadGroups\":[{},{\"files\":[{\"path\":\"a\xc3\",\"content\":\"\"}]}]}", "workloadGroups[1].files[0].path", "invalid UTF-8"},
		{"invalid utf-8 key", "{\"pro\xffmise\":\"p\"}", "pro\ufffdmise", "invalid UTF-8"},
		{"lone surrogate", `{"promise":"p","files":[{"path":"a","content":"\ud800"}]}`, "files[0].content", "surrogate"},
		{"duplicate top key", `{"promise":"a","promise":"b"}`, "promise", "duplicate key"},
		{"duplicate nested key", `{"files":[{"path":"a","content":"1"},{"path":"b","path":"c"}]}`, "files[1].path", "duplicate key"},
		{"same key in siblings", `{"a":{"x":1},"b":{"x":2},"c":[1,true,null,{"x":3}]}`, "", ""},
		{"array index after scalars", "{\"c\":[1,true,null,\"\xff\"]}", "c[3]", "invalid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckJSONText([]byte(c.body))
			var se *SyntaxError
			if c.field == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.As(err, &se) || se.Field != c.field || !strings.Contains(se.Message, c.msg) {
				t.Fatalf("got %#v, want field %q with %q", err, c.field, c.msg)
			}
		})
	}
}

// TestDecodeWorkRequestRefusesRewrites: the Work decoder refuses what json would
// silently rewrite.
func TestDecodeWorkRequestRefusesRewrites(t *testing.T) {
	for _, body := range []string{
		"{\"promise\":\"p\",\"files\":[{\"path\":\"a.yaml\",\"content\":\"\xff\"}]}",
		`{"promise":"p","promise":"q","files":[{"path":"a.yaml","content":"x"}]}`,
	} {
		_, err := DecodeWorkRequest(strings.NewReader(body))
		var se *SyntaxError
		if !errors.As(err, &se) || se.Field == "" {
			t.Errorf("%q: %v, want a SyntaxError naming the field", body, err)
		}
	}
}

func FuzzCheckJSONText(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c"}],"d":"\u00e9"}`))
	f.Add([]byte("{\"a\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = CheckJSONText(b) // never panics
	})
}
