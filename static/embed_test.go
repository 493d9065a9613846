package static

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestURLIsHashed(t *testing.T) {
	for _, name := range []string{"htmx.min.js", "app.css", "app.js"} {
		got := URL(name)
		ext := name[strings.LastIndexByte(name, '.'):]
		stem := strings.TrimSuffix(name, ext)
		re := regexp.MustCompile(`^/static/` + regexp.QuoteMeta(stem) + `\.[0-9a-f]{8}` + regexp.QuoteMeta(ext) + `$`)
		if !re.MatchString(got) {
			t.Errorf("URL(%q) = %q, want /static/%s.<8 hex>%s", name, got, stem, ext)
		}
	}
	if got, want := URL("nope.css"), "/static/nope.css"; got != want {
		t.Errorf("URL(unknown) = %q, want %q", got, want)
	}
}

func TestHandler(t *testing.T) {
	h := Handler()
	stripped := http.StripPrefix("/static/", Handler())
	tests := []struct {
		name, method, path string
		h                  http.Handler
		code               int
		cache, ctype       string
	}{
		{"hashed css", "GET", URL("app.css"), h, 200, "public, max-age=31536000, immutable", "text/css; charset=utf-8"},
		{"hashed js stripped", "GET", URL("app.js"), stripped, 200, "public, max-age=31536000, immutable", "text/javascript; charset=utf-8"},
		{"hashed htmx", "GET", URL("htmx.min.js"), h, 200, "public, max-age=31536000, immutable", "text/javascript; charset=utf-8"},
		{"plain name", "GET", "/static/app.css", h, 200, "public, max-age=300", "text/css; charset=utf-8"},
		{"head", "HEAD", URL("app.js"), h, 200, "public, max-age=31536000, immutable", "text/javascript; charset=utf-8"},
		{"wrong hash", "GET", "/static/app.00000000.css", h, 404, "", ""},
		{"unknown", "GET", "/static/secret.txt", h, 404, "", ""},
		{"traversal", "GET", "/static/../embed.go", h, 404, "", ""},
		{"post", "POST", URL("app.css"), h, 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.code {
				t.Fatalf("%s %s: code %d, want %d", tt.method, tt.path, rec.Code, tt.code)
			}
			if got := rec.Header().Get("Cache-Control"); tt.cache != "" && got != tt.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.cache)
			}
			if got := rec.Header().Get("Content-Type"); tt.ctype != "" && got != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
			}
			if tt.code == 200 && tt.method == "GET" && rec.Body.Len() == 0 {
				t.Errorf("empty body")
			}
		})
	}
}

func TestHandlerETag(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", URL("app.css"), nil))
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req := httptest.NewRequest("GET", "/static/app.css", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: code %d, want 304", rec.Code)
	}
}

func TestAssetsAreLocal(t *testing.T) {
	for _, name := range []string{"app.css", "app.js"} {
		b, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(b); strings.Contains(s, "http://") || strings.Contains(s, "https://") || strings.Contains(s, "@import") {
			t.Errorf("%s refers to something external", name)
		}
	}
}
