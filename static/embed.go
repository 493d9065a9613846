// Package static embeds the dashboard's assets — htmx, app.css, app.js and the
// favicon — and
// serves them from the binary, with no CDN. Each asset is served under a
// content-hashed name (/static/app.3f2a9c1e.css) with a year-long immutable cache,
// so a new release is picked up at once; the plain name (/static/app.css) is served
// too, with a short cache, for hand-written links.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed htmx.min.js app.css app.js favicon.svg
var files embed.FS

// Prefix is the URL path under which Handler expects to be mounted.
const Prefix = "/static/"

// asset is one embedded file with its hashed name.
type asset struct {
	name   string // e.g. "app.css"
	hashed string // e.g. "app.3f2a9c1e.css"
	body   []byte
	ctype  string
	etag   string
}

// assets maps both the plain and the hashed name to their asset; it is built once
// at init and never changed.
var assets = load()

func load() map[string]*asset {
	entries, err := files.ReadDir(".")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	m := make(map[string]*asset, 2*len(entries))
	for _, e := range entries {
		body, err := files.ReadFile(e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:])[:8]
		a := &asset{name: e.Name(), hashed: hashedName(e.Name(), h), body: body,
			ctype: contentType(e.Name()), etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		m[a.name], m[a.hashed] = a, a
	}
	return m
}

// hashedName inserts h before the last extension: app.css → app.<h>.css.
func hashedName(name, h string) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + h + ext
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

// URL returns the content-hashed path of an embedded asset, e.g.
// URL("app.css") = "/static/app.3f2a9c1e.css". An unknown name gets its plain
// path, which answers 404, so that a typo shows in the browser's console.
func URL(name string) string {
	if a, ok := assets[name]; ok {
		return Prefix + a.hashed
	}
	return Prefix + name
}

// Handler serves the embedded assets at Prefix + name, hashed names with
// "Cache-Control: public, max-age=31536000, immutable" and plain names with a
// five-minute cache. It answers GET and HEAD (with ETag / If-None-Match) and
// accepts being mounted with or without http.StripPrefix.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, Prefix), "/")
	a, ok := assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if name == a.hashed {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}
