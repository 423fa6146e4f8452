package webui

import (
	"context"
	"embed"
	"log/slog"
	"net/http"

	"github.com/hookd/hookd"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Config holds the optional parts of a UI. The zero value works: each field says what its zero
// value means.
type Config struct {
	// Clock decides when sessions and keys expire. Nil means hookd.SystemClock.
	Clock hookd.Clock
	// Logger receives the detail of internal errors. Nil means slog.Default().
	Logger *slog.Logger
	// CheckURL checks that a receiver URL is safe to call and returns a hookd.Error whose
	// message is shown when it is not. Nil means only the syntax checks of this package run.
	CheckURL func(ctx context.Context, uri string, ssl bool) error
	// Wake is called after a retry so that the dispatcher claims the new deliveries at once.
	// Nil means nobody is told; the dispatcher finds them on its own.
	Wake func()
	// SecureCookies marks the session cookies Secure (and names them with the __Host- prefix),
	// for a UI served over HTTPS. False suits plain http on localhost.
	SecureCookies bool
}

// UI is the web interface over a store. It is safe for concurrent use.
type UI struct {
	store    hookd.Store
	clock    hookd.Clock
	logger   *slog.Logger
	checkURL func(ctx context.Context, uri string, ssl bool) error
	wake     func()
	secure   bool
	pages    *pageSet
	mux      *http.ServeMux
}

// New returns a UI serving store, with cfg's defaults filled in. It panics if the embedded
// templates do not parse, which the package's tests rule out.
func New(store hookd.Store, cfg Config) *UI {
	u := &UI{
		store:    store,
		clock:    cfg.Clock,
		logger:   cfg.Logger,
		checkURL: cfg.CheckURL,
		wake:     cfg.Wake,
		secure:   cfg.SecureCookies,
		pages:    mustParsePages(),
		mux:      http.NewServeMux(),
	}
	if u.clock == nil {
		u.clock = hookd.SystemClock{}
	}
	if u.logger == nil {
		u.logger = slog.Default()
	}
	u.routes()
	return u
}

// Handler returns the http.Handler serving every page and asset. It is meant to be mounted at
// "/" for every path that is not the API's. Cross-origin POSTs are refused before any handler
// runs (Sec-Fetch-Site and Origin checks), in addition to the CSRF token of every form.
func (u *UI) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.renderError(w, r, nil, hookd.Errorf(hookd.EFORBIDDEN, "Cross-origin request refused: submit the form from hookd's own pages."))
	}))
	return securityHeaders(cop.Handler(u.mux))
}

// contentSecurityPolicy allows the page to load only what the server itself serves; no
// inline script or style runs, and the page cannot be framed or post forms elsewhere.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every answer of the UI carries.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// wakeDispatcher tells the dispatcher that new deliveries are due.
func (u *UI) wakeDispatcher() {
	if u.wake != nil {
		u.wake()
	}
}
