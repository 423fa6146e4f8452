package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// Config is everything `hookd serve` can be told. The zero value of a field means its default,
// as each comment says; Default returns the defaults filled in.
type Config struct {
	// Addr is the listen address of the API and UI. Default "127.0.0.1:8080"; port 0 picks a
	// free port (see Server.Addr).
	Addr string
	// DB is the database URL: "sqlite:PATH" (default "sqlite:hookd.db") or "postgres://...".
	DB string
	// NoMigrate skips migrating the schema on start; the schema must then be current.
	NoMigrate bool
	// AdminKey, when set, makes sure an admin key with this value exists (HOOKD_ADMIN_KEY).
	AdminKey string
	// AllowedNetworks are receiver networks exempt from the private-address block, e.g.
	// 127.0.0.0/8 for receivers on this machine. Default none.
	AllowedNetworks []netip.Prefix

	// RetrySchedule is the wait before each automatic retry. Default hookd.DefaultRetrySchedule.
	RetrySchedule []time.Duration
	// AttemptTimeout bounds one delivery attempt, connection to last body byte. Default 30 s.
	AttemptTimeout time.Duration
	// MaxResponseBytes caps how much of a receiver's answer is read and stored. Default 64 KiB.
	MaxResponseBytes int64
	// Lease is how long a claimed delivery belongs to this node; if the node dies, another
	// (or this one, restarted) takes it over once the lease expires. Default AttemptTimeout + 30 s;
	// it must exceed AttemptTimeout.
	Lease time.Duration
	// Concurrency is how many attempts may be in flight at once in this process. Default 64.
	Concurrency int
	// PerWebhookInflight is the ceiling of the adaptive limit of attempts in flight to one
	// webhook on this node (docs/health.md), so that a dead receiver cannot hold every sender.
	// Default 16 (never more than Concurrency).
	PerWebhookInflight int
	// WebhookConcurrencyStart is the adaptive per-webhook limit of a webhook without
	// history on this node (docs/health.md); PerWebhookInflight is its ceiling. Default 2.
	WebhookConcurrencyStart int
	// HealthOff turns endpoint health off: no webhook is degraded or paused by its answers
	// (webhooks already paused are still probed). Default on.
	HealthOff bool
	// DegradeAfter, PauseAfter and RecoverAfter are the failures in a row that degrade and
	// pause a webhook, and the successes in a row that make a degraded one healthy. Defaults
	// 5, 20 and 3.
	DegradeAfter, PauseAfter, RecoverAfter int
	// PauseOnRetryAfter: a 429 or 503 asking to wait at least this long pauses the webhook
	// until then. Default 30 s.
	PauseOnRetryAfter time.Duration
	// ProbeMin and ProbeMax bound the backoff between the probes of a paused webhook.
	// Defaults 5 s and 10 min.
	ProbeMin, ProbeMax time.Duration
	// KeyCacheTTL is how long a valid API key is trusted before it is read again: a key
	// revoked on another node is refused here within it. Default 5 s; negative: no cache.
	KeyCacheTTL time.Duration
	// MaxBacklog is the number of deliveries not yet final at which publishing is refused with
	// 503 and Retry-After. Default 0: no limit.
	MaxBacklog int64
	// RetryRateLimit limits the manual retry routes per user and path, e.g. "5/15m" (DocSpace's
	// policy). Default "" (off): the seed scripts and retry --failed are never slowed.
	RetryRateLimit string
	// PollInterval is how often the dispatcher looks for due deliveries when nothing wakes it.
	// Default 1 s.
	PollInterval time.Duration
	// ShutdownGrace is how long in-flight attempts may finish after a stop signal. Default 30 s.
	ShutdownGrace time.Duration
	// HeadProbe turns on DocSpace's HEAD request to a receiver on create, update and enable.
	// Default off: many receivers answer only POST.
	HeadProbe bool

	// Retention is how long finished (delivered or failed) deliveries and their attempts are
	// kept, counted from their creation. Default 720 h (30 days); negative keeps them forever
	// (the command line's --retention 0).
	Retention time.Duration
	// DisableAfter is how long a webhook whose attempts fail may go without a successful
	// delivery before hookd switches it off, with the reason. Default 72 h, as DocSpace;
	// negative never switches one off (--disable-after 0).
	DisableAfter time.Duration
	// JanitorInterval is the time between two retention and auto-disable passes. Default 1 min.
	JanitorInterval time.Duration
	// PruneBatch is the most deliveries one retention transaction deletes; batches are spaced
	// out so that delivery keeps the database. Default 500.
	PruneBatch int

	// Version and Commit identify the build in hookd_build_info. Default "unknown".
	Version, Commit string

	// SecureCookies marks the web UI's session cookies Secure, for a UI served over HTTPS
	// (directly or behind a TLS proxy). Default off: plain http on localhost.
	SecureCookies bool

	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// Clock tells the time. Default hookd.SystemClock.
	Clock hookd.Clock
}

// Default returns c with every zero field set to its default.
func (c Config) Default() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DB == "" {
		c.DB = "sqlite:hookd.db"
	}
	if c.RetrySchedule == nil {
		c.RetrySchedule = hookd.DefaultRetrySchedule
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = 30 * time.Second
	}
	if c.Lease == 0 {
		c.Lease = c.AttemptTimeout + 30*time.Second
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 64 << 10
	}
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 30 * time.Second
	}
	if c.Retention == 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.DisableAfter == 0 {
		c.DisableAfter = 72 * time.Hour
	}
	if c.JanitorInterval == 0 {
		c.JanitorInterval = time.Minute
	}
	if c.PruneBatch == 0 {
		c.PruneBatch = 500
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = hookd.SystemClock{}
	}
	return c
}

// Validate reports the first setting that cannot work, naming it.
func (c Config) Validate() error {
	if _, _, err := ParseDB(c.DB); err != nil {
		return err
	}
	if c.AdminKey != "" && (!strings.HasPrefix(c.AdminKey, hookd.KeyPrefix) || len(c.AdminKey) < 20) {
		return errors.New("admin key (HOOKD_ADMIN_KEY) must start with \"sk-\" and be at least 20 characters long")
	}
	for i, d := range c.RetrySchedule {
		if d < 0 {
			return fmt.Errorf("retry schedule: step %d is negative (%s)", i+1, d)
		}
	}
	switch {
	case c.AttemptTimeout < 0:
		return fmt.Errorf("attempt timeout must be positive, got %s", c.AttemptTimeout)
	case c.Lease <= c.AttemptTimeout:
		return fmt.Errorf("lease (%s) must be longer than the attempt timeout (%s)", c.Lease, c.AttemptTimeout)
	case c.PerWebhookInflight < 0:
		return fmt.Errorf("per-webhook in-flight cap must be positive, got %d", c.PerWebhookInflight)
	case c.WebhookConcurrencyStart < 0:
		return fmt.Errorf("webhook concurrency start must be positive, got %d", c.WebhookConcurrencyStart)
	case c.DegradeAfter < 0 || c.PauseAfter < 0 || c.RecoverAfter < 0:
		return fmt.Errorf("degrade-after, pause-after and recover-after must be positive, got %d, %d, %d", c.DegradeAfter, c.PauseAfter, c.RecoverAfter)
	case c.PauseOnRetryAfter < 0 || c.ProbeMin < 0 || c.ProbeMax < 0:
		return fmt.Errorf("pause-on-retry-after, probe-min and probe-max must be positive, got %s, %s, %s", c.PauseOnRetryAfter, c.ProbeMin, c.ProbeMax)
	case c.ProbeMax > 0 && c.ProbeMin > c.ProbeMax:
		return fmt.Errorf("probe-min (%s) must not exceed probe-max (%s)", c.ProbeMin, c.ProbeMax)
	case c.MaxBacklog < 0:
		return fmt.Errorf("max backlog must be positive (0 = no limit), got %d", c.MaxBacklog)
	case c.MaxResponseBytes < 0:
		return fmt.Errorf("max response bytes must be positive, got %d", c.MaxResponseBytes)
	case c.Concurrency < 0:
		return fmt.Errorf("concurrency must be positive, got %d", c.Concurrency)
	case c.ShutdownGrace < 0:
		return fmt.Errorf("shutdown grace must be positive, got %s", c.ShutdownGrace)
	case c.JanitorInterval < 0:
		return fmt.Errorf("janitor interval must be positive, got %s", c.JanitorInterval)
	case c.PruneBatch < 0:
		return fmt.Errorf("prune batch must be positive, got %d", c.PruneBatch)
	}
	return nil
}

// ParseNetworks reads a comma-separated list of CIDR prefixes (HOOKD_ALLOWED_NETWORKS). A
// bare address is taken as a single-address prefix.
func ParseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("allowed networks: %q is not a CIDR prefix such as 127.0.0.0/8", part)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ParseSchedule reads a comma-separated list of durations such as "5s,5m,30m" (HOOKD_RETRY_SCHEDULE).
// An empty string means no automatic retries.
func ParseSchedule(s string) ([]time.Duration, error) {
	out := []time.Duration{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("retry schedule: %q is not a duration such as 5s, 10m or 2h", part)
		}
		out = append(out, d)
	}
	return out, nil
}
