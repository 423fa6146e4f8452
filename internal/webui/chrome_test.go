package webui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium, which .ci/chromium.sh installs.
const chromiumPath = "/usr/bin/chromium"

// chrome is a headless Chromium with one tab on the UI. It records what a reviewer would
// look for in the DevTools: console errors, and every request the pages make.
type chrome struct {
	t    testing.TB
	ctx  context.Context
	base string // the UI's URL
	host string
	dir  string // where screenshots go

	mu       sync.Mutex
	errors   []string // console errors, exceptions and error entries of the browser log
	foreign  []string // requests to any host but the UI's
	requests int
}

// startChrome starts Chromium for a UI at base, or skips the test (fails it under CI=true)
// when Chromium is not installed.
func startChrome(t *testing.T, base string) *chrome {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is missing at %s: .ci/run installs it with chromium_install from .ci/chromium.sh", chromiumPath)
		}
		t.Skipf("Chromium is missing at %s: run `. .ci/chromium.sh && chromium_install` for the browser tests", chromiumPath)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh profile per run. Chromium's helpers may still write into it for a moment after
	// the browser exits, so it is removed with a few tries rather than by t.TempDir.
	profile, err := os.MkdirTemp("", "hookd-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	c := &chrome{t: t, ctx: ctx, base: strings.TrimSuffix(base, "/"), host: u.Host, dir: screenshotDir(t)}
	if err := chromedp.Listen(ctx, c.record); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return c
}

// record runs in chromedp's reading loop for every event of the tab: it must be quick.
func (c *chrome) record(ev any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			c.errors = append(c.errors, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		c.errors = append(c.errors, "exception: "+(&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			c.errors = append(c.errors, fmt.Sprintf("log %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		c.requests++
		u, err := url.Parse(ev.Request.URL)
		if err != nil || (u.Scheme != "data" && u.Host != c.host) {
			c.foreign = append(c.foreign, ev.Request.URL)
		}
	}
}

// clean fails the test if any page so far logged an error or asked another host.
func (c *chrome) clean(where string) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errors) > 0 {
		c.t.Fatalf("%s: console errors:\n%s", where, strings.Join(c.errors, "\n"))
	}
	if len(c.foreign) > 0 {
		c.t.Fatalf("%s: requests to hosts other than %s:\n%s", where, c.host, strings.Join(c.foreign, "\n"))
	}
}

// do runs actions, failing the test on error; each gets at most 20 s.
func (c *chrome) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

// open loads a page of the UI and checks it answered 200.
func (c *chrome) open(path string) {
	c.t.Helper()
	c.expectLoad("open "+path, chromedp.Navigate(c.base+path))
}

// expectLoad runs actions that load a page (a click on a link or a submit button) and
// waits for it; the page must answer 200 and log no error.
func (c *chrome) expectLoad(what string, actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	if res.Status != http.StatusOK {
		c.t.Fatalf("%s: got status %d for %s, want 200", what, res.Status, res.URL)
	}
	c.clean(what)
}

// text returns the text of the first element matching a CSS selector.
func (c *chrome) text(sel string) string {
	c.t.Helper()
	return eval[string](c, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel))
}

// count returns how many elements match a CSS selector.
func (c *chrome) count(sel string) int {
	c.t.Helper()
	return eval[int](c, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

func eval[T any](c *chrome, expr string) T {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		c.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition in the page until it holds, up to timeout.
func (c *chrome) waitFor(what, cond string, timeout time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		c.t.Fatalf("waiting for %s (%s): %v", what, cond, err)
	}
}

// location returns the page's path and query.
func (c *chrome) location() string {
	c.t.Helper()
	return eval[string](c, `location.pathname + location.search`)
}

// screenshot saves the viewport as name.png in the screenshot folder.
func (c *chrome) screenshot(name string) []byte {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		c.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, name+".png"), buf, 0o644); err != nil {
		c.t.Fatalf("save screenshot: %v", err)
	}
	return buf
}

// viewport sets the size of the page and the colour scheme it sees.
func (c *chrome) viewport(width, height int64, mobile bool, scheme string) {
	c.t.Helper()
	opts := []chromedp.EmulateViewportOption{}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(2))
	}
	c.do("viewport", chromedp.EmulateViewport(width, height, opts...), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
}

// screenshotDir is $HOOKD_SCREENSHOTS, or .artifacts/screenshots at the repository root,
// which git ignores.
func screenshotDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("HOOKD_SCREENSHOTS")
	if dir == "" {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, ".artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot folder: %v", err)
	}
	return dir
}
