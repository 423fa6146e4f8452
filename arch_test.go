package hookd_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// goPackage is what this test reads of `go list -json`.
type goPackage struct {
	ImportPath string
	Doc        string
	Name       string
	Imports    []string
	GoFiles    []string
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestImports enforces the layout of STYLE.md: the domain package uses only the standard
// library, the parts import the domain but never each other, and each store keeps to its driver.
func TestImports(t *testing.T) {
	t.Parallel()
	const mod = "github.com/hookd/hookd"
	parts := []string{"internal/store/sqlite", "internal/store/postgres", "internal/delivery", "internal/httpapi", "internal/webui"}
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		for _, imp := range p.Imports {
			switch {
			case rel == "" && strings.Contains(strings.SplitN(imp, "/", 2)[0], "."):
				t.Errorf("package hookd imports %s: the domain package may use the standard library only", imp)
			case rel == "client" && strings.HasPrefix(imp, mod+"/internal"):
				t.Errorf("package client imports %s: the public client may not depend on internal packages", imp)
			case rel == "internal/store/sqlite" && strings.Contains(imp, "jackc/pgx"):
				t.Errorf("the SQLite store imports %s", imp)
			case rel == "internal/store/postgres" && strings.Contains(imp, "sqlite"):
				t.Errorf("the PostgreSQL store imports %s", imp)
			}
			for _, part := range parts {
				other := mod + "/" + part
				if strings.HasPrefix(rel, "internal/") && isPart(rel, parts) && imp != p.ImportPath && strings.HasPrefix(imp, other) && !strings.HasPrefix(rel, part) {
					t.Errorf("%s imports %s: parts import the domain package, never each other (only internal/server wires them)", rel, imp)
				}
			}
		}
	}
}

func isPart(rel string, parts []string) bool {
	for _, p := range parts {
		if rel == p {
			return true
		}
	}
	return false
}

// TestPackageDocs checks that every package says what it is for.
func TestPackageDocs(t *testing.T) {
	t.Parallel()
	for _, p := range listPackages(t) {
		if len(p.GoFiles) == 0 {
			continue // test-only packages document themselves in their tests
		}
		if want := "Package " + p.Name + " "; p.Name != "main" && !strings.HasPrefix(p.Doc, strings.TrimSpace(want)) {
			t.Errorf("%s: package doc %q should start with %q", p.ImportPath, p.Doc, want)
		}
		if p.Name == "main" && p.Doc == "" {
			t.Errorf("%s: a command needs a doc comment", p.ImportPath)
		}
	}
}
