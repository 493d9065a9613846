package planner

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayering keeps the planner pure and the database out of layout: planner
// imports only tenants and pathing of this module (and no I/O package), and db
// does not import pathing — it reaches layout through the planner.
func TestLayering(t *testing.T) {
	const mod = "github.com/stateward/stateward/"
	check := func(dir string, allowed func(string) bool) {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range ast.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if !allowed(path) {
					t.Errorf("%s imports %s", f, path)
				}
			}
		}
	}
	check(".", func(p string) bool {
		switch p {
		case mod + "tenants", mod + "pathing":
			return true
		case "os", "io", "net", "net/http", "database/sql", "time":
			return false // no I/O, no clock: the same inputs give the same plan
		}
		return !strings.Contains(p, ".") // the standard library
	})
	check("../db", func(p string) bool { return p != mod+"pathing" })
}
