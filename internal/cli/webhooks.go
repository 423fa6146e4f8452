package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/client"
)

func newWebhooksCmd(a *app) *cobra.Command {
	c := &conn{}
	cmd := &cobra.Command{
		Use:     "webhooks",
		Aliases: []string{"webhook"},
		Short:   "List, create, update, enable, disable and delete webhooks",
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
		newWebhookDeleteCmd(a, c))
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
	t := newTable(w, "ID", "NAME", "URI", "ENABLED", "SSL", "TRIGGERS", "LAST STATUS", "LAST SUCCESS", "LAST FAILURE")
	for _, h := range hooks {
		enabled := yesNo(h.Enabled)
		if !h.Enabled && h.DisabledReason != "" {
			enabled = "no (" + h.DisabledReason + ")"
		}
		t.row(strconv.FormatInt(h.ID, 10), h.Name, h.URI, enabled, yesNo(h.SSL), h.Triggers.String(),
			statusText(h.LastStatus), localTime(h.LastSuccessOn), localTime(h.LastFailureOn))
	}
	return t.flush()
}

// webhookFlags are the fields of a webhook as flags of create and update.
type webhookFlags struct {
	name, uri, secret, secretFile, triggers, targetID string
	ssl, enabled, disabled                            bool
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
				Triggers: triggers, TargetID: f.targetID,
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
				SSL: cur.SSL, Triggers: cur.Triggers, TargetID: cur.TargetID}
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
