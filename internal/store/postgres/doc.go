// Package postgres implements hookd.Store on PostgreSQL with pgx, for deployments where
// several hookd nodes share one database.
//
// Deliveries are claimed with FOR UPDATE SKIP LOCKED, so nodes never wait on each other's
// claims; a claim is a lease with a per-row fencing token, so a node that dies mid-attempt
// loses nothing and a late answer from it cannot overwrite a newer claim. Publishing and
// retrying send NOTIFY hookd_due inside their transaction; Store.Listen turns those
// notifications into wake-ups on every node.
//
// Writes on the hot path are set-based: EventPublish calls that arrive together share one
// statement (group commit, group_commit.go), EventPublishBatch is one statement for up to
// MaxPublishBatch events, and AttemptRecord writes a whole batch of attempts, deliveries and
// webhooks in one statement over arrays. Health and ordering live in SQL too: deliveries of a
// paused webhook are held (never claimed), and a delivery with an ordering key is claimed
// only when no earlier one of its webhook and key is still to go (health.go, claim.go).
//
// Migrations are embedded SQL files (migrations/NNN_name.sql) applied by Store.Migrate under a
// transaction-level advisory lock, so nodes starting together cannot race on the schema.
// Times written to the database come from the injected hookd.Clock, never from now(), so
// tests can move time by hand; they are truncated to microseconds, PostgreSQL's precision.
package postgres
