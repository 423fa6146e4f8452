package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/client"
)

// defaultServerURL is where the client commands look for hookd without --url or HOOKD_URL:
// the default listen address of serve.
const defaultServerURL = "http://127.0.0.1:8080"

// clientCommands returns the commands that talk to a server through package client.
func clientCommands(a *app) []*cobra.Command {
	return []*cobra.Command{
		newWebhooksCmd(a), newLogsCmd(a), newRetryCmd(a), newPublishCmd(a), newTriggersCmd(a),
		newBenchCmd(a),
	}
}

// conn holds the connection and output flags every client command shares.
type conn struct {
	url    string
	key    string
	output string
}

// addConnFlags declares --url, --key and --output on cmd and its subcommands.
func addConnFlags(a *app, cmd *cobra.Command, c *conn) {
	f := cmd.PersistentFlags()
	f.StringVar(&c.url, "url", a.env("HOOKD_URL", defaultServerURL), "server URL: hookd, or https://yourportal.onlyoffice.com (HOOKD_URL)")
	// The key's default is read in client, not here, so that --help never prints it.
	f.StringVar(&c.key, "key", "", "API key, sk-... (HOOKD_KEY; prefer the variable: flags show in ps)")
	f.StringVarP(&c.output, "output", "o", "table", "output format: table or json")
}

// client checks the shared flags and returns a client of the server. Waits for a rate limit
// are announced on stderr.
func (c *conn) client(a *app) (*client.Client, error) {
	if c.output != "table" && c.output != "json" {
		return nil, withExit(ExitUsage, fmt.Errorf("--output %q: use table or json", c.output))
	}
	if c.key == "" {
		c.key = a.getenv("HOOKD_KEY")
	}
	if strings.TrimSpace(c.key) == "" {
		return nil, withExit(ExitUsage, errors.New("no API key: set HOOKD_KEY or pass --key (create one with: hookd key create --name cli)"))
	}
	notify := func(method, path string, err error, wait time.Duration) {
		if client.StatusCode(err) == http.StatusTooManyRequests {
			fmt.Fprintf(a.stderr, "hookd: the server is rate limiting requests; waiting %s\n", wait.Round(time.Second))
		}
	}
	cl, err := client.New(c.url, c.key, client.WithRetryNotify(notify), client.WithUserAgent("hookd-cli"))
	if err != nil {
		return nil, withExit(ExitUsage, err)
	}
	return cl, nil
}

// json reports whether the output is JSON.
func (c *conn) json() bool { return c.output == "json" }

// explain turns an error of package client into one line for stderr and an exit code. what
// names the object the request was about ("webhook 42"), for a 404.
func (c *conn) explain(err error, what string) error {
	if err == nil {
		return nil
	}
	var ce *client.Error
	switch {
	case errors.Is(err, context.Canceled):
		return withExit(ExitError, errors.New("interrupted"))
	case errors.As(err, &ce):
		return withExit(exitCode(ce.StatusCode), errors.New(sentence(ce, c.url, what)))
	}
	var uerr interface{ Timeout() bool }
	if errors.As(err, &uerr) && uerr.Timeout() {
		return withExit(ExitUnreachable, fmt.Errorf("the server at %s did not answer in time", c.url))
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return withExit(ExitUnreachable, fmt.Errorf("cannot reach the server at %s: %s", c.url, netReason(op)))
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return withExit(ExitUnreachable, fmt.Errorf("cannot reach the server at %s: host %s not found", c.url, dns.Name))
	}
	return withExit(ExitError, err)
}

// exitCode maps an HTTP status to the exit code scripts can test.
func exitCode(status int) int {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ExitAuth
	case http.StatusNotFound:
		return ExitNotFound
	}
	return ExitError
}

// sentence says what an error answer means, in words.
func sentence(e *client.Error, url, what string) string {
	detail := strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	if e.Message != "" {
		detail += ": " + e.Message
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Sprintf("the server at %s refused the API key (%s); check HOOKD_KEY or --key", url, detail)
	case http.StatusForbidden:
		return fmt.Sprintf("the API key is not allowed to do this (%s)", detail)
	case http.StatusNotFound:
		if what == "" {
			what = "the record"
		}
		return fmt.Sprintf("%s was not found (%s)", what, detail)
	case http.StatusTooManyRequests:
		return fmt.Sprintf("the server is rate limiting requests; try again in %s (%s)", max(e.RetryAfter, time.Second).Round(time.Second), detail)
	}
	if e.StatusCode >= 500 {
		return fmt.Sprintf("the server failed (%s)", detail)
	}
	return fmt.Sprintf("the server refused the request (%s)", detail)
}

// netReason is the cause of a network failure without the addresses already named.
func netReason(op *net.OpError) string {
	var sys *os.SyscallError
	if errors.As(op.Err, &sys) {
		return sys.Err.Error()
	}
	return op.Err.Error()
}

// parseIDs reads positional ids.
func parseIDs(args []string, what string) ([]int64, error) {
	ids := make([]int64, 0, len(args))
	for _, s := range args {
		id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || id <= 0 {
			return nil, withExit(ExitUsage, fmt.Errorf("%q is not a %s id: ids are positive whole numbers", s, what))
		}
		ids = append(ids, id)
	}
	return ids, nil
}
