package bench_test

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/hookd/hookd/internal/bench"
	"github.com/hookd/hookd/internal/cli"
)

// childEnv marks a run of this test binary as one of the benchmark's child processes: it then
// acts as the hookd binary, so that the smoke test needs no build of cmd/hookd.
const childEnv = "HOOKD_BENCH_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

// selfExec starts this test binary as the hookd binary.
func selfExec(t testing.TB) bench.Exec {
	t.Helper()
	return bench.Exec{Path: os.Args[0], Env: []string{childEnv + "=1"}}
}
