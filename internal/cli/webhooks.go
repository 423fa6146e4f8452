package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/client"
)

func newWebhooksCmd(a *app) *cobra.Command {
	c := &conn{}
	cmd := &cobra.Command{
		Use:     "webhooks",
		Aliases: []string{"webhook"},
		Short:   "List, create, update, enable, disable and delete webhooks, and rotate their secrets",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runWebhooksList(cmd, a, c) },
	}
	addConnFlags(a, cmd, c)
	list := &cobra.Command{
		Use:   "list",
		Short: "List webhooks with the status of their last delivery",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runWebhooksList(cmd, a, c) },
	}
	cmd.AddCommand(list, newWebhookCreateCmd(a, c), newWebhookUpdateCmd(a, c),
		newWebhookSwitchCmd(a, c, "enable", true), newWebhookSwitchCmd(a, c, "disable", false),
		newWebhookDeleteCmd(a, c), newWebhookRotateCmd(a, c))
	return cmd
}

func runWebhooksList(cmd *cobra.Command, a *app, c *conn) error {
	cl, err := c.client(a)
	if err != nil {
		return err
	}
	hooks, err := cl.Webhooks(cmd.Context())
	if err != nil {
		return c.explain(err, "")
	}
	return writeWebhooks(a.stdout, c, hooks)
}

func writeWebhooks(w io.Writer, c *conn, hooks []*client.Webhook) error {
	if c.json() {
		if hooks == nil {
			hooks = []*client.Webhook{}
		}
		return writeJSON(w, hooks)
	}
	t := newTable(w, "ID", "NAME", "URI", "ENABLED", "SSL", "SIGNING", "TRIGGERS", "LAST STATUS", "LAST SUCCESS", "LAST FAILURE")
	for _, h := range hooks {
		enabled := yesNo(h.Enabled)
		if !h.Enabled && h.DisabledReason != "" {
			enabled = "no (" + h.DisabledReason + ")"
		}
		t.row(strconv.FormatInt(h.ID, 10), h.Name, h.URI, enabled, yesNo(h.SSL), signingText(h), h.Triggers.String(),
			statusText(h.LastStatus), localTime(h.LastSuccessOn), localTime(h.LastFailureOn))
	}
	return t.flush()
}

// signingText says how a webhook's deliveries are signed, and until when a rotation overlaps.
func signingText(h *client.Webhook) string {
	s := "docspace"
	if h.StandardSigning {
		s = "docspace+standard"
	}
	if h.PreviousSecretUntil != nil {
		s += " (old secret until " + localTime(h.PreviousSecretUntil) + ")"
	}
	return s
}

// webhookFlags are the fields of a webhook as flags of create and update.
type webhookFlags struct {
	name, uri, secret, secretFile, triggers, targetID string
	ssl, enabled, disabled, standardSigning           bool
}

func (f *webhookFlags) add(cmd *cobra.Command, create bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "name of the webhook (at most 50 characters)")
	fl.StringVar(&f.uri, "uri", "", "receiver URL that events are POSTed to")
	fl.StringVar(&f.secret, "secret", "", "secret key that signs deliveries (visible in ps: prefer --secret-file)")
	fl.StringVar(&f.secretFile, "secret-file", "", "read the secret key from a file, or - for stdin")
	fl.StringVar(&f.triggers, "triggers", "", `events to send: comma-separated names or a mask, "*" for all (see hookd triggers)`)
	fl.StringVar(&f.targetID, "target-id", "", "deliver only events about this entity id")
	fl.BoolVar(&f.ssl, "ssl", create, "verify the receiver's certificate and require https")
	fl.BoolVar(&f.standardSigning, "standard-signing", false, "also sign with Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature); see docs/signing.md")
	if create {
		fl.BoolVar(&f.disabled, "disabled", false, "create it switched off")
	} else {
		fl.BoolVar(&f.enabled, "enabled", true, "switch it on or off (--enabled=false)")
	}
}

// secretValue returns the secret from --secret or --secret-file, "" when neither is given.
func (f *webhookFlags) secretValue(a *app) (string, error) {
	if f.secret != "" && f.secretFile != "" {
		return "", withExit(ExitUsage, errors.New("give --secret or --secret-file, not both"))
	}
	if f.secretFile == "" {
		return f.secret, nil
	}
	var b []byte
	var err error
	if f.secretFile == "-" {
		b, err = io.ReadAll(io.LimitReader(a.stdin, 4096))
	} else {
		b, err = os.ReadFile(f.secretFile)
	}
	if err != nil {
		return "", withExit(ExitUsage, fmt.Errorf("read --secret-file: %w", err))
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func newWebhookCreateCmd(a *app, c *conn) *cobra.Command {
	f := &webhookFlags{}
	cmd := &cobra.Command{
		Use:   "create --name NAME --uri URL --secret-file FILE [--triggers LIST] [--ssl=false]",
		Short: "Create a webhook",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret, err := f.secretValue(a)
			if err != nil {
				return err
			}
			if f.name == "" || f.uri == "" || secret == "" {
				return withExit(ExitUsage, errors.New("--name, --uri and a secret (--secret-file or --secret) are required"))
			}
			triggers, err := client.ParseTriggers(f.triggers)
			if err != nil {
				return withExit(ExitUsage, fmt.Errorf("--triggers: %w", err))
			}
			cl, err := c.client(a)
			if err != nil {
				return err
			}
			w, err := cl.CreateWebhook(cmd.Context(), client.WebhookParams{
				Name: f.name, URI: f.uri, SecretKey: secret, Enabled: !f.disabled, SSL: f.ssl,
				Triggers: triggers, TargetID: f.targetID, StandardSigning: f.standardSigning,
			})
			if err != nil {
				return c.explain(err, "")
			}
			return writeWebhooks(a.stdout, c, []*client.Webhook{w})
		},
	}
	f.add(cmd, true)
	return cmd
}

func newWebhookUpdateCmd(a *app, c *conn) *cobra.Command {
	f := &webhookFlags{}
	cmd := &cobra.Command{
		Use:   "update ID [--name NAME] [--uri URL] [--secret-file FILE] [--triggers LIST] [--ssl=BOOL] [--enabled=BOOL]",
		Short: "Change some fields of a webhook; the others keep their values",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(args, "webhook")
			if err != nil {
				return err
			}
			secret, err := f.secretValue(a)
			if err != nil {
				return err
			}
			cl, err := c.client(a)
			if err != nil {
				return err
			}
			what := "webhook " + args[0]
			cur, err := cl.Webhook(cmd.Context(), ids[0])
			if err != nil {
				return c.explain(err, what)
			}
			// DocSpace's update replaces every field: start from the current values.
			p := client.WebhookParams{Name: cur.Name, URI: cur.URI, SecretKey: secret, Enabled: cur.Enabled,
				SSL: cur.SSL, Triggers: cur.Triggers, TargetID: cur.TargetID, StandardSigning: cur.StandardSigning}
			fl := cmd.Flags()
			if fl.Changed("name") {
				p.Name = f.name
			}
			if fl.Changed("uri") {
				p.URI = f.uri
			}
			if fl.Changed("ssl") {
				p.SSL = f.ssl
			}
			if fl.Changed("enabled") {
				p.Enabled = f.enabled
			}
			if fl.Changed("target-id") {
				p.TargetID = f.targetID
			}
			if fl.Changed("standard-signing") {
				p.StandardSigning = f.standardSigning
			}
			if fl.Changed("triggers") {
				if p.Triggers, err = client.ParseTriggers(f.triggers); err != nil {
					return withExit(ExitUsage, fmt.Errorf("--triggers: %w", err))
				}
			}
			w, err := cl.UpdateWebhook(cmd.Context(), ids[0], p)
			if err != nil {
				return c.explain(err, what)
			}
			return writeWebhooks(a.stdout, c, []*client.Webhook{w})
		},
	}
	f.add(cmd, false)
	return cmd
}

func newWebhookRotateCmd(a *app, c *conn) *cobra.Command {
	f := &webhookFlags{}
	var overlap time.Duration
	cmd := &cobra.Command{
		Use:   "rotate-secret ID --secret-file FILE [--overlap 24h]",
		Short: "Give a webhook a new secret; the old one keeps signing beside it for the overlap",
		Long: `Give a webhook a new secret. For the overlap (24h by default, 0s for none) deliveries
carry a signature made with the old secret too (x-hookd-signature-256-previous, and a second
webhook-signature entry), so receivers can switch secrets without rejecting any delivery.
Generate a Standard Webhooks secret with:  echo "whsec_$(openssl rand -base64 32)"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(args, "webhook")
			if err != nil {
				return err
			}
			secret, err := f.secretValue(a)
			if err != nil {
				return err
			}
			if secret == "" {
				return withExit(ExitUsage, errors.New("a new secret (--secret-file or --secret) is required"))
			}
			if overlap < 0 {
				return withExit(ExitUsage, errors.New("--overlap may not be negative"))
			}
			cl, err := c.client(a)
			if err != nil {
				return err
			}
			w, err := cl.RotateWebhookSecret(cmd.Context(), ids[0], secret, overlap)
			if err != nil {
				return c.explain(err, "webhook "+args[0])
			}
			return writeWebhooks(a.stdout, c, []*client.Webhook{w})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.secret, "secret", "", "the new secret key (visible in ps: prefer --secret-file)")
	fl.StringVar(&f.secretFile, "secret-file", "", "read the new secret key from a file, or - for stdin")
	fl.DurationVar(&overlap, "overlap", client.DefaultSecretOverlap, "how long the old secret keeps signing beside the new one (at most 720h)")
	return cmd
}

func newWebhookSwitchCmd(a *app, c *conn, verb string, enabled bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " ID...",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " webhooks",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachWebhook(cmd, a, c, args, func(cl *client.Client, id int64) (*client.Webhook, error) {
				return cl.SetWebhookEnabled(cmd.Context(), id, enabled)
			})
		},
	}
}

func newWebhookDeleteCmd(a *app, c *conn) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete webhooks with their delivery history",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachWebhook(cmd, a, c, args, func(cl *client.Client, id int64) (*client.Webhook, error) {
				return cl.DeleteWebhook(cmd.Context(), id)
			})
		},
	}
}

// eachWebhook applies do to every id, prints the webhooks it returned, and reports the ids
// that failed: with one id its error decides the exit code; with several, some failing is a
// partial success.
func eachWebhook(cmd *cobra.Command, a *app, c *conn, args []string, do func(*client.Client, int64) (*client.Webhook, error)) error {
	ids, err := parseIDs(args, "webhook")
	if err != nil {
		return err
	}
	cl, err := c.client(a)
	if err != nil {
		return err
	}
	var done []*client.Webhook
	var errs []error
	for _, id := range ids {
		w, err := do(cl, id)
		if err != nil {
			err = c.explain(err, "webhook "+strconv.FormatInt(id, 10))
			var ee *exitError
			if errors.As(err, &ee) && (ee.code == ExitAuth || ee.code == ExitUnreachable) {
				return err // every other id would fail the same way
			}
			errs = append(errs, err)
			continue
		}
		done = append(done, w)
	}
	if len(done) > 0 {
		if err := writeWebhooks(a.stdout, c, done); err != nil {
			return err
		}
	}
	switch {
	case len(errs) == 0:
		return nil
	case len(ids) == 1:
		return errs[0]
	}
	for _, e := range errs[:len(errs)-1] {
		fmt.Fprintln(a.stderr, "hookd:", e)
	}
	code := ExitPartial
	if len(done) == 0 {
		code = ExitNotFound
		var ee *exitError
		if errors.As(errs[0], &ee) {
			code = ee.code
		}
	}
	return withExit(code, errs[len(errs)-1])
}
