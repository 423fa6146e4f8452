package httpapi

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// DefaultMaxBodyBytes is the request body limit used when Config.MaxBodyBytes is zero.
const DefaultMaxBodyBytes int64 = 1 << 20

// Config holds the optional parts of an API. The zero value works: each field says what its
// zero value means.
type Config struct {
	// Clock decides whether API keys have expired. Nil means hookd.SystemClock.
	Clock hookd.Clock
	// Logger receives the detail of internal errors. Nil means slog.Default().
	Logger *slog.Logger
	// CheckURL checks that a receiver URL is safe to call (the delivery guard's outbound
	// check) and returns a hookd EINVALID error with a message when it is not. Nil means only
	// the syntax checks of this package run.
	CheckURL func(ctx context.Context, uri string, ssl bool) error
	// Wake is called after a publish or a retry so that the dispatcher claims the new
	// deliveries at once. Nil means nobody is told; the dispatcher finds them on its own.
	Wake func()
	// MaxBodyBytes caps request bodies; bigger bodies are refused with 413. Zero or less
	// means DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// MaxBatchBodyBytes caps the body of a batch publish, whose events are each held to
	// MaxBodyBytes. Zero or less means DefaultMaxBatchBodyBytes (16 MiB); never below
	// MaxBodyBytes.
	MaxBatchBodyBytes int64
	// KeyCacheTTL is how long a valid API key read from the store is trusted before it is
	// read again (keycache.go). A key revoked or changed in the database directly (hookd key
	// revoke, another node) keeps working on this node for up to this long. Zero means
	// DefaultKeyCacheTTL (5 s); a negative value reads the store on every request.
	KeyCacheTTL time.Duration
	// HeadProbe, when set, is DocSpace's liveness probe: a HEAD request to the receiver URL
	// that must answer 2xx before a webhook is created, updated or enabled. It returns a
	// hookd EINVALID error when the probe fails. Nil means no probe, hookd's default.
	HeadProbe func(ctx context.Context, uri string, ssl bool) error
	// Backlog counts the deliveries not yet final (hookd.DeliveryStats.Backlog; wrap it with
	// CachedBacklog). With MaxBacklog, it turns on backpressure. Nil means no backpressure.
	Backlog func(ctx context.Context) (int64, error)
	// MaxBacklog is the backlog at which publishing is refused with 503 and Retry-After, until
	// the workers bring it under the limit again. Zero or less means no limit, the default.
	MaxBacklog int64
	// RetryRateLimit limits the two manual retry routes per user and request path, in a
	// sliding window kept in this process's memory, as DocSpace's sensitive_api policy does
	// (DocSpaceRetryLimit: 5 per 15 min). The zero value means no limit, the default: scripts
	// and `hookd retry --failed` retry thousands of deliveries in batches.
	RetryRateLimit RateLimit
}

// API is the HTTP API over a store. It is safe for concurrent use.
type API struct {
	store     hookd.Store
	clock     hookd.Clock
	logger    *slog.Logger
	checkURL  func(ctx context.Context, uri string, ssl bool) error
	wake      func()
	maxBody   int64
	keys      hookd.KeyLookup // the store, through the key cache unless turned off
	headProbe func(ctx context.Context, uri string, ssl bool) error
	mux       *http.ServeMux

	backlog         func(ctx context.Context) (int64, error)
	maxBacklog      int64
	backlogWarn     sync.Mutex
	backlogWarnedAt time.Time
	retryLimiter    *limiter // nil when retries are not limited
	maxBatchBody    int64
}

// New returns an API serving store, with cfg's defaults filled in.
func New(store hookd.Store, cfg Config) *API {
	a := &API{
		store:     store,
		clock:     cfg.Clock,
		logger:    cfg.Logger,
		checkURL:  cfg.CheckURL,
		wake:      cfg.Wake,
		maxBody:   cfg.MaxBodyBytes,
		headProbe: cfg.HeadProbe,
		mux:       http.NewServeMux(),

		backlog:    cfg.Backlog,
		maxBacklog: cfg.MaxBacklog,
	}
	if a.clock == nil {
		a.clock = hookd.SystemClock{}
	}
	if cfg.RetryRateLimit.Enabled() {
		a.retryLimiter = newLimiter(cfg.RetryRateLimit, a.clock)
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	a.maxBatchBody = cmp.Or(max(cfg.MaxBatchBodyBytes, 0), DefaultMaxBatchBodyBytes)
	a.maxBatchBody = max(a.maxBatchBody, a.maxBody)
	a.keys = store
	if cfg.KeyCacheTTL >= 0 {
		a.keys = newKeyCache(store, cmp.Or(cfg.KeyCacheTTL, DefaultKeyCacheTTL), maxCachedKeys, a.clock)
	}
	a.routes()
	return a
}

// Handler returns the http.Handler serving every route of the API. Paths and methods it does
// not know are answered in the DocSpace error shape (404, or 405 with an Allow header).
func (a *API) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, pattern := a.mux.Handler(r); pattern == "" {
			// No route matched: learn from the mux whether the path exists with another
			// method (405) or not at all (404), then answer in the error shape. Anything
			// else (a redirect to a cleaned path) is the mux's own answer.
			rec := &statusRecorder{header: http.Header{}}
			h.ServeHTTP(rec, r)
			switch rec.status {
			case http.StatusNotFound:
				writeErrorStatus(w, http.StatusNotFound, "No API route matches this path.")
				return
			case http.StatusMethodNotAllowed:
				w.Header().Set("Allow", rec.header.Get("Allow"))
				writeErrorStatus(w, http.StatusMethodNotAllowed, "Method "+r.Method+" is not allowed here; allowed: "+rec.header.Get("Allow")+".")
				return
			}
		}
		a.mux.ServeHTTP(w, r)
	})
}

// wakeDispatcher tells the dispatcher that new deliveries are due.
func (a *API) wakeDispatcher() {
	if a.wake != nil {
		a.wake()
	}
}

// statusRecorder captures the status and headers of the mux's fallback handlers without
// keeping their plain-text body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(status int)      { s.status = status }
