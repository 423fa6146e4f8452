// Package cli is hookd's command line: serve, migrate and key work on the store directly;
// every other command is a client of the HTTP API through package client.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes shared by all commands, so scripts can tell failures apart.
const (
	ExitOK          = 0
	ExitError       = 1 // anything else
	ExitUsage       = 2 // wrong flags or arguments
	ExitAuth        = 3 // the server refused the key (401/403)
	ExitNotFound    = 4 // an id the server does not know
	ExitUnreachable = 5 // no answer from the server
	ExitPartial     = 6 // some items of a batch could not be done
)

// ExitError is an error that ends the command with a specific exit code. Its message is
// printed as one line on stderr.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withExit wraps err so that the command exits with code.
func withExit(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// app carries what every command needs: the process environment and streams, injected so that
// tests run commands in-process.
type app struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// env returns the value of a HOOKD_* variable, or def when it is unset or empty.
func (a *app) env(name, def string) string {
	if v := a.getenv(name); v != "" {
		return v
	}
	return def
}

// Run executes the hookd command line with args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "hookd",
		Short:         "hookd: a self-hosted, DocSpace-compatible webhook delivery server",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCmd(a), newMigrateCmd(a), newKeyCmd(a), newVersionCmd(a))
	root.AddCommand(clientCommands(a)...)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return withExit(ExitUsage, err) })

	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "hookd:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitError
}
