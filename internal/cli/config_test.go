package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// writeFile writes content to name in a new temporary directory and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testFlags is a small flag set shaped like serve's.
func testFlags() (*pflag.FlagSet, *string, *time.Duration, *int, *string) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "")
	timeout := fs.Duration("attempt-timeout", 30*time.Second, "")
	conc := fs.Int("concurrency", 64, "")
	nets := fs.String("allowed-networks", "", "")
	fs.String("config", "", "")
	return fs, addr, timeout, conc, nets
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSettingsPrecedence(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "hookd.yaml", `# settings
addr: 0.0.0.0:9000
attempt_timeout: 5s
concurrency: 8
allowed_networks:
  - 127.0.0.0/8
  - 10.1.0.0/16
admin_key: sk-from-the-file-0123456789
`)
	fs, addr, timeout, conc, nets := testFlags()
	if err := fs.Parse([]string{"--concurrency", "2"}); err != nil {
		t.Fatal(err)
	}
	cf, err := readConfigFile(path, knownKey(fs, serveOnlyFlags...))
	if err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"HOOKD_ATTEMPT_TIMEOUT": "7s", "HOOKD_CONCURRENCY": "4"})
	if err := applySources(fs, cf, env, serveOnlyFlags...); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ what, got, want string }{
		{"addr (file over default)", *addr, "0.0.0.0:9000"},
		{"attempt timeout (env over file)", timeout.String(), "7s"},
		{"concurrency (flag over env and file)", fmt.Sprint(*conc), "2"},
		{"allowed networks (list)", *nets, "127.0.0.0/8,10.1.0.0/16"},
		{"admin key (file)", fileOnly("admin_key", cf, env), "sk-from-the-file-0123456789"},
		{"admin key (env over file)", fileOnly("admin_key", cf, envOf(map[string]string{"HOOKD_ADMIN_KEY": "sk-env"})), "sk-env"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.what, tc.got, tc.want)
		}
	}

	// Without a file, defaults stay.
	fs, addr, timeout, _, _ = testFlags()
	if err := applySources(fs, nil, envOf(nil), serveOnlyFlags...); err != nil {
		t.Fatal(err)
	}
	if *addr != "127.0.0.1:8080" || *timeout != 30*time.Second {
		t.Errorf("got addr %q timeout %s, want the defaults", *addr, *timeout)
	}
}

func TestConfigFileErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"UnknownKey", "addr: x\natempt_timeout: 5s\n", `hookd.yaml:2: unknown setting "atempt_timeout"`},
		{"FlagSpelling", "attempt-timeout: 5s\n", `unknown setting "attempt-timeout"`},
		{"ConfigItself", "config: other.yaml\n", `unknown setting "config"`},
		{"Duplicate", "addr: a\naddr: b\n", `hookd.yaml:2: setting "addr" given twice`},
		{"Nested", "addr:\n  host: x\n", `hookd.yaml:2: addr: want a value or a list of values`},
		{"NotAMap", "- addr\n", `want settings as`},
		{"Syntax", "addr: [\n", `hookd.yaml`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs, _, _, _, _ := testFlags()
			_, err := readConfigFile(writeFile(t, "hookd.yaml", tc.content), knownKey(fs, serveOnlyFlags...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
	t.Run("BadValueNamesItsSource", func(t *testing.T) {
		t.Parallel()
		fs, _, _, _, _ := testFlags()
		path := writeFile(t, "hookd.yaml", "addr: x\nattempt_timeout: soon\n")
		cf, err := readConfigFile(path, knownKey(fs))
		if err != nil {
			t.Fatal(err)
		}
		err = applySources(fs, cf, envOf(map[string]string{"HOOKD_CONCURRENCY": "many"}), serveOnlyFlags...)
		for _, want := range []string{`hookd.yaml:2: attempt_timeout: "soon"`, `HOOKD_CONCURRENCY="many"`} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("got error %v, want one containing %q", err, want)
			}
		}
	})
	t.Run("EmptyFile", func(t *testing.T) {
		t.Parallel()
		fs, _, _, _, _ := testFlags()
		cf, err := readConfigFile(writeFile(t, "hookd.yaml", "# nothing yet\n"), knownKey(fs))
		if err != nil || len(cf.values) != 0 {
			t.Errorf("got %v, %v, want no settings and no error", cf, err)
		}
	})
}

// TestEverySettingIsDocumented checks docs/configuration.md against serve's flags: each
// setting has a table row with its file key, flag, variable and default.
func TestEverySettingIsDocumented(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if m := regexp.MustCompile("^\\| `([a-z_]+)` \\|").FindStringSubmatch(line); m != nil {
			rows[m[1]] = line
		}
	}
	fs := newServeCmd(&app{getenv: envOf(nil)}).Flags()
	names := settingNames(fs, serveOnlyFlags...)
	for _, n := range names {
		flag, env, key := n[0], n[1], n[2]
		row, ok := rows[key]
		if !ok {
			t.Errorf("docs/configuration.md has no row for %s", key)
			continue
		}
		want := []string{env}
		if flag != "" {
			want = append(want, "`"+flag+"`")
			if def := fs.Lookup(flag[2:]).DefValue; def != "" && def != "false" {
				want = append(want, "`"+def+"`")
			}
		}
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("docs/configuration.md row of %s lacks %s: %s", key, w, row)
			}
		}
	}
	if len(rows) != len(names) {
		t.Errorf("docs/configuration.md documents %d settings, serve has %d", len(rows), len(names))
	}
}

// TestServeWithConfigFile runs `hookd serve --config` in-process: the file's settings take
// effect (a free port, the database path), an environment variable overrides one, /metrics
// answers, and a cancelled context stops the server with exit code 0.
func TestServeWithConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, "hookd.yaml", "addr: 127.0.0.1:0\ndb: sqlite:"+filepath.Join(dir, "h.db")+"\nlog_level: debug\nretention: 0\n")
	env := envOf(map[string]string{"HOOKD_LOG_LEVEL": "warn", "HOOKD_SHUTDOWN_GRACE": "2s"})
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- Run(ctx, []string{"serve", "--config", path}, env, strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var url, logs string
	for sc.Scan() {
		logs += sc.Text() + "\n"
		if m := regexp.MustCompile(`hookd listening on (\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	if url == "" {
		t.Fatalf("serve did not start:\n%s", logs)
	}
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(pr)
		rest <- string(b)
	}()
	if _, err := os.Stat(filepath.Join(dir, "h.db")); err != nil {
		t.Errorf("the database of the file was not used: %v", err)
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "hookd_build_info{") {
		t.Errorf("GET /metrics: got %d, want 200 with hookd_build_info", resp.StatusCode)
	}
	cancel()
	select {
	case c := <-code:
		if c != ExitOK {
			t.Errorf("serve exited with %d, want 0", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10s of its context ending")
	}
	logs += <-rest
	if strings.Contains(logs, `"level":"INFO"`) || strings.Contains(logs, `"level":"DEBUG"`) {
		t.Errorf("info logs written though HOOKD_LOG_LEVEL=warn overrides the file's debug:\n%s", logs)
	}
}

func TestServeRejectsUnknownConfigKey(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "hookd.yaml", "adress: 127.0.0.1:0\n")
	var stderr strings.Builder
	code := Run(context.Background(), []string{"serve", "--config", path}, envOf(nil), strings.NewReader(""), io.Discard, &stderr)
	if code != ExitUsage || !strings.Contains(stderr.String(), `unknown setting "adress"`) {
		t.Errorf("got exit %d and %q, want %d naming the key", code, stderr.String(), ExitUsage)
	}
	// HOOKD_CONFIG names the file as --config does.
	stderr.Reset()
	code = Run(context.Background(), []string{"serve"}, envOf(map[string]string{"HOOKD_CONFIG": path}), strings.NewReader(""), io.Discard, &stderr)
	if code != ExitUsage || !strings.Contains(stderr.String(), `unknown setting "adress"`) {
		t.Errorf("with HOOKD_CONFIG: got exit %d and %q, want %d naming the key", code, stderr.String(), ExitUsage)
	}
}
