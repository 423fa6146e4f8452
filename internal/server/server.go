// Package server wires hookd together: it opens the store, builds the delivery worker, the
// HTTP API and the web UI, and runs them until its context ends. It is the only package that
// knows every concrete type.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/httpapi"
	"github.com/hookd/hookd/internal/janitor"
	"github.com/hookd/hookd/internal/metrics"
	"github.com/hookd/hookd/internal/replay"
	"github.com/hookd/hookd/internal/webui"
)

// Server is a running hookd: API, UI, delivery workers and janitor on one store.
type Server struct {
	cfg      Config
	log      *slog.Logger
	raw      hookd.Store // the backend itself: closed last, asked for LISTEN/NOTIFY
	store    hookd.Store // raw wrapped by the metrics: what every part uses
	metrics  *metrics.Metrics
	worker   *delivery.Worker
	janitor  *janitor.Janitor
	replays  *replay.Runner
	http     *http.Server
	listener net.Listener
}

// listener is what a store offers when it can wake this node on other nodes' events
// (PostgreSQL LISTEN/NOTIFY).
type notifier interface {
	Listen(ctx context.Context, wake func()) error
}

// New validates cfg, opens and migrates the store, provisions the admin key, and listens on
// cfg.Addr. Nothing is served until Run.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg = cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	store, err := OpenStore(ctx, cfg.DB, cfg.Clock)
	if err != nil {
		return nil, err
	}
	s, err := newWithStore(ctx, cfg, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	return s, nil
}

func newWithStore(ctx context.Context, cfg Config, raw hookd.Store) (*Server, error) {
	if l, ok := raw.(interface{ SetLogger(*slog.Logger) }); ok {
		l.SetLogger(cfg.Logger)
	}
	if !cfg.NoMigrate {
		if err := raw.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	if err := raw.Ping(ctx); err != nil {
		return nil, fmt.Errorf("database not ready: %w", err)
	}
	// Every part gets the observed store, so the metrics count deliveries without the worker
	// knowing about them.
	met := metrics.New(raw, metrics.Config{
		Version: cfg.Version,
		Commit:  cfg.Commit,
		Clock:   cfg.Clock,
		Logger:  cfg.Logger,
	})
	store := met.Store(raw)
	if cfg.AdminKey != "" {
		if _, err := EnsureKey(ctx, store, cfg.AdminKey, "admin (HOOKD_ADMIN_KEY)", hookd.RoleAdmin, hookd.ScopeWrite); err != nil {
			return nil, fmt.Errorf("admin key: %w", err)
		}
	}

	guard := delivery.NewGuard(cfg.AllowedNetworks, nil)
	sender := delivery.NewSender(guard, delivery.SenderConfig{
		Timeout:             cfg.AttemptTimeout,
		MaxResponseBytes:    cfg.MaxResponseBytes,
		MaxIdleConnsPerHost: cfg.Concurrency,
	})
	rateLimit, err := httpapi.ParseRateLimit(cfg.RetryRateLimit)
	if err != nil {
		return nil, fmt.Errorf("retry rate limit: %w", err)
	}
	worker := delivery.NewWorker(store, sender, cfg.Clock, cfg.Logger, delivery.Config{
		Concurrency:        cfg.Concurrency,
		PerWebhookInflight: cfg.PerWebhookInflight,
		InitialInflight:    cfg.WebhookConcurrencyStart,
		Health: delivery.HealthPolicy{
			Off:               cfg.HealthOff,
			DegradeAfter:      cfg.DegradeAfter,
			PauseAfter:        cfg.PauseAfter,
			RecoverAfter:      cfg.RecoverAfter,
			PauseOnRetryAfter: cfg.PauseOnRetryAfter,
			ProbeMin:          cfg.ProbeMin,
			ProbeMax:          cfg.ProbeMax,
		},
		Lease:         cfg.Lease,
		PollInterval:  cfg.PollInterval,
		Schedule:      cfg.RetrySchedule,
		ShutdownGrace: cfg.ShutdownGrace,
	})
	apiCfg := httpapi.Config{
		Clock:          cfg.Clock,
		Logger:         cfg.Logger,
		CheckURL:       guard.CheckURL,
		Wake:           worker.Wake,
		MaxBacklog:     cfg.MaxBacklog,
		RetryRateLimit: rateLimit,
		KeyCacheTTL:    cfg.KeyCacheTTL,
	}
	if cfg.MaxBacklog > 0 {
		apiCfg.Backlog = httpapi.CachedBacklog(func(ctx context.Context) (int64, error) {
			st, err := store.DeliveryStats(ctx)
			if err != nil {
				return 0, err
			}
			// Held deliveries wait for a paused receiver, not for hookd: one paused
			// webhook must not stop publishing to the others.
			return st.Backlog() - st.Held, nil
		}, time.Second)
	}
	if cfg.HeadProbe {
		apiCfg.HeadProbe = sender.Probe
	}
	api := httpapi.New(store, apiCfg)
	ui := webui.New(store, webui.Config{
		Clock:         cfg.Clock,
		Logger:        cfg.Logger,
		CheckURL:      guard.CheckURL,
		Wake:          worker.Wake,
		SecureCookies: cfg.SecureCookies,
	})
	jan := janitor.New(store, cfg.Clock, cfg.Logger, janitor.Config{
		Interval:     cfg.JanitorInterval,
		Retention:    cfg.Retention,
		DisableAfter: cfg.DisableAfter,
		PruneBatch:   cfg.PruneBatch,
	})
	// Replay jobs: started through the API, stepped here at their pace; found within a poll.
	replays := replay.New(store, cfg.Clock, cfg.Logger, replay.Config{PollInterval: cfg.PollInterval, Wake: worker.Wake})
	mux := http.NewServeMux()
	mux.Handle("/api/", api.Handler())
	mux.Handle("/healthz", api.Handler())
	mux.Handle("/readyz", api.Handler())
	mux.Handle("GET /metrics", met.Handler())
	mux.Handle("/", ui.Handler())

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	return &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		raw:     raw,
		store:   store,
		metrics: met,
		worker:  worker,
		janitor: jan,
		replays: replays,
		http: &http.Server{
			Handler:           recoverPanics(cfg.Logger, mux),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
		listener: ln,
	}, nil
}

// Addr returns the address the server listens on, with the real port when cfg.Addr had port 0.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// URL returns the base URL of the API, e.g. "http://127.0.0.1:8080".
func (s *Server) URL() string { return "http://" + s.Addr() }

// Store returns the server's store, for tools and tests that work beside the server. What
// passes through it is counted in the metrics, as the server's own calls are.
func (s *Server) Store() hookd.Store { return s.store }

// Metrics returns the server's metrics, served at /metrics.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// Run serves the API, delivers and keeps the database tidy until ctx ends, then shuts down
// within cfg.ShutdownGrace: at once the worker stops claiming (releasing the claims it has not
// started) and the HTTP server stops accepting; in-flight attempts and requests get the grace
// to finish, and every finished attempt is recorded; the store is closed last.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("hookd serving", "addr", s.Addr(), "db_backend", backendName(s.cfg.DB))

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := s.worker.Run(workCtx); err != nil {
			errc <- fmt.Errorf("delivery worker: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := s.janitor.Run(workCtx); err != nil {
			errc <- fmt.Errorf("janitor: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := s.replays.Run(workCtx); err != nil {
			errc <- fmt.Errorf("replay runner: %w", err)
		}
	}()
	if n, ok := s.raw.(notifier); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Listen(workCtx, s.worker.Wake); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("listen for events of other nodes", "err", err)
			}
		}()
	}
	go func() {
		if err := s.http.Serve(s.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.log.Info("hookd shutting down", "grace", s.cfg.ShutdownGrace.String())
	// Both stages start now, side by side, so that the whole stop fits in one grace period.
	stopWork()
	shutCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		if err := s.http.Shutdown(shutCtx); err != nil {
			s.log.Warn("http shutdown", "err", err)
		}
	}()
	wg.Wait()
	<-httpDone
	if err := s.raw.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("close store: %w", err)
	}
	s.log.Info("hookd stopped")
	return runErr
}

// Close releases the listener and the store of a server that was never Run.
func (s *Server) Close() error {
	s.listener.Close()
	return s.raw.Close()
}

func backendName(db string) string {
	b, _, _ := ParseDB(db)
	return b
}

// recoverPanics turns a panic in a handler into a logged error and a 500 in the DocSpace error
// shape, instead of a dropped connection.
func recoverPanics(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, `{"error":{"message":"Internal error."},"status":1,"statusCode":500}`)
			}
		}()
		h.ServeHTTP(w, r)
	})
}
