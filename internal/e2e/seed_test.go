package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
)

// TestSeedScripts runs the Python and Node examples of ../shared/seed, the how-to written for a
// real DocSpace portal, against hookd with only the base URL, the key and the config id
// replaced, and checks that what they retried reached the receiver.
func TestSeedScripts(t *testing.T) {
	forEachBackend(t, testSeedScripts)
}

func testSeedScripts(t *testing.T, db string) {
	doc := seedDoc(t)
	env := servertest.Start(t, func(c *server.Config) { c.DB = db })
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}

	var healthy atomic.Bool
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		}
	})
	var wh webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "seed", "uri": rc.URL, "secretKey": "seed-secret-1", "enabled": true}, &wh)
	for i := range 3 {
		api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"id": i}}, nil)
	}
	failedCount := func() int {
		var rows []logDTO
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&groupStatus=Failed", wh.ID), nil, &rows)
		n := 0
		for _, r := range rows {
			if r.State == "failed" {
				n++
			}
		}
		return n
	}
	servertest.Eventually(t, 15*time.Second, "3 deliveries fail for good", func() bool { return failedCount() == 3 })
	healthy.Store(true) // the outage is over

	scripts := []struct {
		name string
		run  func(t *testing.T, code string) *exec.Cmd
		code string
	}{
		{"Python", pythonCmd, seedBlock(t, doc, "py")},
		{"Node", nodeCmd, seedBlock(t, doc, "ts")},
	}
	var scriptsDone []string
	for _, s := range scripts {
		t.Run(s.name, func(t *testing.T) {
			before := len(rc.Hits())
			code := strings.NewReplacer(
				"https://yourportal.onlyoffice.com", env.URL,
				"YOUR_API_KEY", env.AdminKey,
				"1234", fmt.Sprint(wh.ID),
			).Replace(s.code)
			cmd := s.run(t, code)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s script: %v\n%s", s.name, err, out)
			}
			if strings.Contains(string(out), "failed") || strings.Contains(string(out), "No failed") {
				t.Fatalf("%s script reported a problem:\n%s", s.name, out)
			}
			// One single retry of the first failed delivery, then a batch retry of all three.
			servertest.Eventually(t, 10*time.Second, "4 retried deliveries reach the receiver", func() bool {
				return len(rc.Hits()) >= before+4
			})
			for _, h := range rc.Hits()[before:] {
				if err := verifySignature("seed-secret-1", h.Body, h.Signature); err != nil {
					t.Errorf("retried delivery: %v", err)
				}
			}
			// The log agrees: the retried deliveries are recorded as delivered.
			wantRetried := 4 * (len(scriptsDone) + 1)
			servertest.Eventually(t, 10*time.Second, fmt.Sprintf("%d delivered retries in the log", wantRetried), func() bool {
				var rows []logDTO
				api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&groupStatus=Status2xx", wh.ID), nil, &rows)
				retried := 0
				for _, r := range rows {
					if r.RetryOf != 0 {
						retried++
					}
				}
				return retried == wantRetried
			})
			if n := len(rc.Hits()) - before; n != 4 {
				t.Errorf("after the %s script: %d new receiver hits, want 4", s.name, n)
			}
			scriptsDone = append(scriptsDone, s.name)
		})
	}
}

// seedDoc reads the how-to from ../shared/seed beside the repository.
func seedDoc(t *testing.T) string {
	t.Helper()
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("find the repository root: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(root)), "..", "shared", "seed", "*.txt"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), "retry_webhook_deliveries") {
			return string(b)
		}
	}
	needService(t, "the seed how-to in ../shared/seed")
	return ""
}

// seedBlock returns the first fenced code block of a language (the full example), dedented.
func seedBlock(t *testing.T, doc, lang string) string {
	t.Helper()
	re := regexp.MustCompile("(?s)\n( *)``` ?" + lang + "\n(.*?)\n *```")
	m := re.FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("no %s example in the seed how-to", lang)
	}
	indent := m[1]
	var lines []string
	for _, l := range strings.Split(m[2], "\n") {
		lines = append(lines, strings.TrimPrefix(l, indent))
	}
	return strings.Join(lines, "\n")
}

func pythonCmd(t *testing.T, code string) *exec.Cmd {
	py, err := exec.LookPath("python3")
	if err != nil {
		needService(t, "python3")
	}
	if err := exec.Command(py, "-c", "import requests").Run(); err != nil {
		needService(t, "the Python requests package")
	}
	f := filepath.Join(t.TempDir(), "retry.py")
	os.WriteFile(f, []byte(code), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, py, f)
}

var npmMu sync.Mutex

// nodeCmd strips the TypeScript types with the typescript package (installed from npm into a
// cache directory on first use) and runs the result with node.
func nodeCmd(t *testing.T, code string) *exec.Cmd {
	node, err := exec.LookPath("node")
	if err != nil {
		needService(t, "node")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	tsDir := filepath.Join(cache, "hookd-test", "typescript")
	npmMu.Lock() // subtests of both backends run in parallel: install once
	defer npmMu.Unlock()
	if _, err := os.Stat(filepath.Join(tsDir, "node_modules", "typescript")); err != nil {
		out, err := exec.Command("npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", tsDir, "typescript@5").CombinedOutput()
		if err != nil {
			needService(t, "the typescript npm package ("+err.Error()+": "+string(out)+")")
		}
	}
	dir := t.TempDir()
	ts := filepath.Join(dir, "retry.ts")
	js := filepath.Join(dir, "retry.js")
	os.WriteFile(ts, []byte(code), 0o600)
	strip := `const ts=require(process.argv[1]);const fs=require("fs");` +
		`const out=ts.transpileModule(fs.readFileSync(process.argv[2],"utf8"),{compilerOptions:{module:ts.ModuleKind.CommonJS,target:ts.ScriptTarget.ES2022}});` +
		`fs.writeFileSync(process.argv[3],out.outputText);`
	if out, err := exec.Command(node, "-e", strip, filepath.Join(tsDir, "node_modules", "typescript"), ts, js).CombinedOutput(); err != nil {
		t.Fatalf("strip TypeScript types: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, node, js)
}

// needService skips the test locally and fails it under CI, where everything must be present.
func needService(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI: %s is missing; .ci/run must provide it", what)
	}
	t.Skipf("%s is not available here (set up by .ci/run under CI)", what)
}
