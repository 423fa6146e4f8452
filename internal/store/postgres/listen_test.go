package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// waitWake fails the test unless wake fires within a few seconds.
func waitWake(t *testing.T, wake <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up after %s", what)
	}
}

// drain empties wake without waiting.
func drain(wake <-chan struct{}) {
	for {
		select {
		case <-wake:
		default:
			return
		}
	}
}

func TestListenWakesOtherNodes(t *testing.T) {
	t.Parallel()
	url := pgtest.TestURL(t)
	listener, publisher := openOn(t, url), openOn(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	wake := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() { done <- listener.Listen(ctx, func() { wake <- struct{}{} }) }()

	waitWake(t, wake, "listening") // Listen wakes once the LISTEN is in place
	admin, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var pid int32
	if err := admin.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
		WHERE application_name = 'hookd-listen' AND datname = current_database()`).Scan(&pid); err != nil {
		t.Fatalf("find the LISTEN session: %v", err)
	}

	mustWebhook(t, publisher, "a")
	ds := mustPublish(t, publisher, `{}`)
	waitWake(t, wake, "EventPublish")
	if _, err := publisher.DeliveryRetry(context.Background(), &hookd.DeliveryRetryParams{IDs: []int64{ds[0].ID}}); err != nil {
		t.Fatal(err)
	}
	waitWake(t, wake, "DeliveryRetry")

	drain(wake)
	// Kill the listening session: Listen reconnects, wakes once to catch up, and hears the
	// next notification.
	if _, err := admin.Exec(context.Background(), "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	waitWake(t, wake, "reconnecting")
	drain(wake)
	mustPublish(t, publisher, `{}`)
	waitWake(t, wake, "EventPublish after reconnecting")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("got %v from Listen after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Listen did not return after cancel")
	}
}
