package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/server"
)

// serveOnlyFlags take no value from the environment or the file through applySources: the
// file's own path is read first, by hand.
var serveOnlyFlags = []string{"config", "help"}

func newServeCmd(a *app) *cobra.Command {
	var (
		cfg          server.Config
		configPath   string
		networks     string
		schedule     string
		logLevel     string
		logFormat    string
		retention    time.Duration
		disableAfter time.Duration
		health       bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API, the web UI and the delivery workers",
		Long: `Run hookd: the DocSpace-compatible API under /api/2.0, the workers that deliver events,
and the janitor that prunes old deliveries and switches off webhooks failing for too long.

Every flag can also be set with the HOOKD_* environment variable named in its help, or
with its key in a YAML configuration file (--config, HOOKD_CONFIG): the flag's name with
underscores, e.g. attempt_timeout: 10s. A flag wins over the variable, the variable over the
file, the file over the default. HOOKD_ADMIN_KEY=sk-... (or admin_key in the file) makes
sure an admin key with that value exists (for scripts and CI). docs/configuration.md lists
every setting.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			if !fs.Changed("config") {
				configPath = a.getenv("HOOKD_CONFIG")
			}
			var file *configFile
			if configPath != "" {
				var err error
				if file, err = readConfigFile(configPath, knownKey(fs, serveOnlyFlags...)); err != nil {
					return withExit(ExitUsage, err)
				}
			}
			if err := applySources(fs, file, a.getenv, serveOnlyFlags...); err != nil {
				return withExit(ExitUsage, err)
			}
			var err error
			if cfg.AllowedNetworks, err = server.ParseNetworks(networks); err != nil {
				return withExit(ExitUsage, err)
			}
			if fs.Changed("retry-schedule") {
				if cfg.RetrySchedule, err = server.ParseSchedule(schedule); err != nil {
					return withExit(ExitUsage, err)
				}
			}
			// On the command line 0 means "never"; in server.Config zero means the default.
			cfg.Retention, cfg.DisableAfter = neverIfZero(retention), neverIfZero(disableAfter)
			cfg.HealthOff = !health
			cfg.KeyCacheTTL = neverIfZero(cfg.KeyCacheTTL)
			logger, err := newLogger(a.stderr, logLevel, logFormat)
			if err != nil {
				return withExit(ExitUsage, err)
			}
			cfg.Logger = logger
			cfg.AdminKey = fileOnly("admin_key", file, a.getenv)
			bi := readBuildInfo()
			cfg.Version, cfg.Commit = bi.Version, bi.Commit

			srv, err := server.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "hookd listening on %s (database %s)\n", srv.URL(), server.RedactDB(cfg.DB))
			return srv.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML file of settings, keys named as the flags with underscores (HOOKD_CONFIG)")
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "listen address (HOOKD_ADDR)")
	f.StringVar(&cfg.DB, "db", "sqlite:hookd.db", "database URL: sqlite:PATH or postgres://... (HOOKD_DB)")
	f.StringVar(&networks, "allowed-networks", "", "comma-separated CIDRs that receivers may be in despite the private-network block, e.g. 127.0.0.0/8 (HOOKD_ALLOWED_NETWORKS)")
	f.StringVar(&schedule, "retry-schedule", "", "waits before automatic retries, e.g. 5s,5m,30m,2h,5h,10h,10h (HOOKD_RETRY_SCHEDULE; default that list)")
	f.DurationVar(&cfg.AttemptTimeout, "attempt-timeout", 30*time.Second, "time limit of one delivery attempt (HOOKD_ATTEMPT_TIMEOUT)")
	f.DurationVar(&cfg.Lease, "lease", 0, "how long a claimed delivery belongs to this node before another may take it over; 0 = attempt timeout + 30s (HOOKD_LEASE)")
	f.Int64Var(&cfg.MaxResponseBytes, "max-response-bytes", 64<<10, "how much of a receiver's answer is read and stored (HOOKD_MAX_RESPONSE_BYTES)")
	f.IntVar(&cfg.Concurrency, "concurrency", 64, "delivery attempts in flight at once (HOOKD_CONCURRENCY)")
	f.IntVar(&cfg.PerWebhookInflight, "per-webhook-inflight", 16, "ceiling of the adaptive attempts in flight to one webhook, so a dead receiver cannot hold every sender (HOOKD_PER_WEBHOOK_INFLIGHT)")
	f.IntVar(&cfg.WebhookConcurrencyStart, "webhook-concurrency-start", 2, "adaptive attempts in flight to a webhook when first seen or resumed; grows up to --per-webhook-inflight (HOOKD_WEBHOOK_CONCURRENCY_START)")
	f.BoolVar(&health, "health", true, "judge receivers healthy, degraded or paused from their answers; false = never pause (HOOKD_HEALTH)")
	f.IntVar(&cfg.DegradeAfter, "degrade-after", 5, "failures in a row that make a webhook degraded (HOOKD_DEGRADE_AFTER)")
	f.IntVar(&cfg.PauseAfter, "pause-after", 20, "failures in a row that pause a webhook: its deliveries wait and a probe checks the receiver (HOOKD_PAUSE_AFTER)")
	f.IntVar(&cfg.RecoverAfter, "recover-after", 3, "successes in a row that make a degraded webhook healthy (HOOKD_RECOVER_AFTER)")
	f.DurationVar(&cfg.PauseOnRetryAfter, "pause-on-retry-after", 30*time.Second, "a 429 or 503 asking to wait at least this long pauses the webhook until then (HOOKD_PAUSE_ON_RETRY_AFTER)")
	f.DurationVar(&cfg.ProbeMin, "probe-min", 5*time.Second, "first wait before probing a paused webhook; doubles after each failed probe (HOOKD_PROBE_MIN)")
	f.DurationVar(&cfg.ProbeMax, "probe-max", 10*time.Minute, "longest wait between two probes of a paused webhook (HOOKD_PROBE_MAX)")
	f.DurationVar(&cfg.KeyCacheTTL, "key-cache-ttl", 5*time.Second, "how long a valid API key is trusted before it is read again; a revoke on another node takes effect within it; 0 = no cache (HOOKD_KEY_CACHE_TTL)")
	f.Int64Var(&cfg.MaxBacklog, "max-backlog", 0, "deliveries not yet final at which publishing answers 503 with Retry-After; 0 = no limit (HOOKD_MAX_BACKLOG)")
	f.StringVar(&cfg.RetryRateLimit, "retry-rate-limit", "off", "manual retries allowed per user and route, e.g. 5/15m (DocSpace's policy); off = no limit (HOOKD_RETRY_RATE_LIMIT)")
	f.DurationVar(&cfg.PollInterval, "poll-interval", time.Second, "how often to look for due deliveries when nothing signals one (HOOKD_POLL_INTERVAL)")
	f.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", 30*time.Second, "how long in-flight attempts may finish after SIGTERM (HOOKD_SHUTDOWN_GRACE)")
	f.DurationVar(&retention, "retention", 30*24*time.Hour, "how long finished deliveries and their attempts are kept; 0 = forever (HOOKD_RETENTION)")
	f.DurationVar(&disableAfter, "disable-after", 72*time.Hour, "switch off a failing webhook after this long without a successful delivery; 0 = never (HOOKD_DISABLE_AFTER)")
	f.DurationVar(&cfg.JanitorInterval, "janitor-interval", time.Minute, "time between two retention and auto-disable passes (HOOKD_JANITOR_INTERVAL)")
	f.IntVar(&cfg.PruneBatch, "prune-batch", 500, "most deliveries deleted in one retention transaction (HOOKD_PRUNE_BATCH)")
	f.BoolVar(&cfg.NoMigrate, "no-migrate", false, "do not migrate the database schema on start (HOOKD_NO_MIGRATE=true)")
	f.BoolVar(&cfg.HeadProbe, "head-probe", false, "send DocSpace's HEAD request to a receiver before saving a webhook (HOOKD_HEAD_PROBE=true)")
	f.BoolVar(&cfg.SecureCookies, "secure-cookies", false, "mark web UI session cookies Secure, for HTTPS (HOOKD_SECURE_COOKIES=true)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error (HOOKD_LOG_LEVEL)")
	f.StringVar(&logFormat, "log-format", "auto", "auto (text on a terminal, JSON otherwise), text or json (HOOKD_LOG_FORMAT)")
	return cmd
}

// neverIfZero maps a command-line age of 0 ("never") to server.Config's negative.
func neverIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// newLogger returns a slog logger at level: text or JSON as format says, or for "auto" text
// when w is a terminal and JSON otherwise (a file, journald, a log collector).
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "auto", "":
		if isTerminal(w) {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: use auto, text or json", format)
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
