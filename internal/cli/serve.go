package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/server"
)

func newServeCmd(a *app) *cobra.Command {
	var (
		cfg       server.Config
		networks  string
		schedule  string
		logLevel  string
		headProbe bool
		envErr    error
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API, the web UI and the delivery workers",
		Long: `Run hookd: the DocSpace-compatible API under /api/2.0, and the workers that deliver events.

Every flag can also be set with the HOOKD_* environment variable named in its help;
a flag wins over the variable, the variable over the default. HOOKD_ADMIN_KEY=sk-...
makes sure an admin key with that value exists (for scripts and CI).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if envErr != nil {
				return withExit(ExitUsage, envErr)
			}
			var err error
			if cfg.AllowedNetworks, err = server.ParseNetworks(networks); err != nil {
				return withExit(ExitUsage, err)
			}
			if cmd.Flags().Changed("retry-schedule") || a.getenv("HOOKD_RETRY_SCHEDULE") != "" {
				if cfg.RetrySchedule, err = server.ParseSchedule(schedule); err != nil {
					return withExit(ExitUsage, err)
				}
			}
			logger, err := newLogger(a.stderr, logLevel)
			if err != nil {
				return withExit(ExitUsage, err)
			}
			cfg.Logger = logger
			cfg.HeadProbe = headProbe
			cfg.AdminKey = a.getenv("HOOKD_ADMIN_KEY")

			srv, err := server.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "hookd listening on %s (database %s)\n", srv.URL(), server.RedactDB(cfg.DB))
			return srv.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", a.env("HOOKD_ADDR", "127.0.0.1:8080"), "listen address (HOOKD_ADDR)")
	f.StringVar(&cfg.DB, "db", a.env("HOOKD_DB", "sqlite:hookd.db"), "database URL: sqlite:PATH or postgres://... (HOOKD_DB)")
	f.StringVar(&networks, "allowed-networks", a.getenv("HOOKD_ALLOWED_NETWORKS"), "comma-separated CIDRs that receivers may be in despite the private-network block, e.g. 127.0.0.0/8 (HOOKD_ALLOWED_NETWORKS)")
	f.StringVar(&schedule, "retry-schedule", a.getenv("HOOKD_RETRY_SCHEDULE"), "waits before automatic retries, e.g. 5s,5m,30m,2h,5h,10h,10h (HOOKD_RETRY_SCHEDULE; default that list)")
	f.DurationVar(&cfg.AttemptTimeout, "attempt-timeout", envDuration(a, &envErr, "HOOKD_ATTEMPT_TIMEOUT", 30*time.Second), "time limit of one delivery attempt (HOOKD_ATTEMPT_TIMEOUT)")
	f.DurationVar(&cfg.Lease, "lease", envDuration(a, &envErr, "HOOKD_LEASE", 0), "how long a claimed delivery belongs to this node before another may take it over; 0 = attempt timeout + 30s (HOOKD_LEASE)")
	f.Int64Var(&cfg.MaxResponseBytes, "max-response-bytes", envInt64(a, &envErr, "HOOKD_MAX_RESPONSE_BYTES", 64<<10), "how much of a receiver's answer is read and stored (HOOKD_MAX_RESPONSE_BYTES)")
	f.IntVar(&cfg.Concurrency, "concurrency", int(envInt64(a, &envErr, "HOOKD_CONCURRENCY", 64)), "delivery attempts in flight at once (HOOKD_CONCURRENCY)")
	f.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", envDuration(a, &envErr, "HOOKD_SHUTDOWN_GRACE", 30*time.Second), "how long in-flight attempts may finish after SIGTERM (HOOKD_SHUTDOWN_GRACE)")
	f.BoolVar(&cfg.NoMigrate, "no-migrate", a.getenv("HOOKD_NO_MIGRATE") == "true", "do not migrate the database schema on start (HOOKD_NO_MIGRATE=true)")
	f.BoolVar(&headProbe, "head-probe", a.getenv("HOOKD_HEAD_PROBE") == "true", "send DocSpace's HEAD request to a receiver before saving a webhook (HOOKD_HEAD_PROBE=true)")
	f.BoolVar(&cfg.SecureCookies, "secure-cookies", a.getenv("HOOKD_SECURE_COOKIES") == "true", "mark web UI session cookies Secure, for HTTPS (HOOKD_SECURE_COOKIES=true)")
	f.StringVar(&logLevel, "log-level", a.env("HOOKD_LOG_LEVEL", "info"), "debug, info, warn or error (HOOKD_LOG_LEVEL)")
	return cmd
}

// newLogger returns a text logger when w is a terminal and a JSON logger otherwise.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// envDuration reads a duration variable; a malformed value is reported through errp.
func envDuration(a *app, errp *error, name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(a.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		*errp = fmt.Errorf("%s=%q is not a duration such as 30s or 2m", name, v)
		return def
	}
	return d
}

// envInt64 reads an integer variable; a malformed value is reported through errp.
func envInt64(a *app, errp *error, name string, def int64) int64 {
	v := strings.TrimSpace(a.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		*errp = fmt.Errorf("%s=%q is not a whole number", name, v)
		return def
	}
	return n
}
