-- hookd schema, version 5: endpoint health, held deliveries, ordered delivery (issue 9).

-- Ordered webhooks send the deliveries of one ordering key one at a time, in publish order.
ALTER TABLE webhooks ADD COLUMN ordered INTEGER NOT NULL DEFAULT 0;
-- Endpoint health, written by WebhookHealthSet: 'healthy', 'degraded' or 'paused' (disabled
-- is enabled = 0). health_since and probe_at are unix microseconds; probe_at is set while
-- paused only, probes counts the failed probes since the pause.
ALTER TABLE webhooks ADD COLUMN health TEXT NOT NULL DEFAULT 'healthy'
    CHECK (health IN ('healthy', 'degraded', 'paused'));
ALTER TABLE webhooks ADD COLUMN health_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN health_since INTEGER;
ALTER TABLE webhooks ADD COLUMN probe_at INTEGER;
ALTER TABLE webhooks ADD COLUMN probes INTEGER NOT NULL DEFAULT 0;
-- WebhookProbeDue's question, every second on every node: which paused webhooks are due.
CREATE INDEX webhooks_probe ON webhooks (probe_at) WHERE health = 'paused';

-- '' means unordered.
ALTER TABLE events ADD COLUMN ordering_key TEXT NOT NULL DEFAULT '';

-- deliveries gains the state 'held' and the column ordering_key. SQLite cannot alter a CHECK
-- constraint, so the table is rebuilt the documented way (sqlite.org/lang_altertable.html,
-- "Making Other Kinds Of Table Schema Changes"): create the new table, copy, drop the old,
-- rename the new. The alternative, editing the CHECK text in sqlite_schema under
-- writable_schema, needs a hand-set schema_version and is refused outright by SQLite builds in
-- defensive mode; the rebuild is plain SQL and checked by foreign_key_check.
--
-- Migrate runs this with foreign_keys OFF (set on the connection before its transaction:
-- the pragma is a no-op inside one). With it ON, DROP TABLE deliveries would delete every row
-- first and ON DELETE CASCADE would take every attempt with it. The new table is renamed to
-- deliveries rather than the old one renamed away, because renaming a table rewrites the
-- REFERENCES of other tables (attempts) to follow it.
CREATE TABLE new_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL REFERENCES events (id),
    trigger_id      INTEGER NOT NULL,
    state           TEXT    NOT NULL
        CHECK (state IN ('pending', 'inflight', 'delivered', 'retrying', 'failed', 'held')),
    created_by      TEXT    NOT NULL DEFAULT '',
    created_on      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    claim_token     INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- a history pointer, not a foreign key: the original may be removed by retention
    retry_of        INTEGER NOT NULL DEFAULT 0,
    status          INTEGER NOT NULL DEFAULT 0,
    delivered_on    INTEGER,
    last_error      TEXT    NOT NULL DEFAULT '',
    last_attempt_id INTEGER,
    -- the event's ordering key when the webhook was ordered at fan-out or retry, else ''
    ordering_key    TEXT    NOT NULL DEFAULT ''
) STRICT;

INSERT INTO new_deliveries
    (id, webhook_id, event_id, trigger_id, state, created_by, created_on, next_attempt_at,
     lease_until, claim_token, attempts, retry_of, status, delivered_on, last_error, last_attempt_id)
SELECT id, webhook_id, event_id, trigger_id, state, created_by, created_on, next_attempt_at,
     lease_until, claim_token, attempts, retry_of, status, delivered_on, last_error, last_attempt_id
FROM deliveries;

-- Keep the AUTOINCREMENT high-water mark: ids of pruned deliveries are never given again
-- (they are the event.id receivers saw). DROP TABLE removes the old table's sequence row and
-- the rename carries the new one's.
DELETE FROM sqlite_sequence WHERE name = 'new_deliveries';
INSERT INTO sqlite_sequence (name, seq) SELECT 'new_deliveries', seq FROM sqlite_sequence WHERE name = 'deliveries';

DROP TABLE deliveries;
ALTER TABLE new_deliveries RENAME TO deliveries;

-- Every index of versions 1, 2 and 4, as they were.
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
CREATE INDEX deliveries_delivered_on ON deliveries (delivered_on);
CREATE INDEX deliveries_final_created_on ON deliveries (created_on) WHERE state IN ('delivered', 'failed');
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_retry_of ON deliveries (retry_of) WHERE retry_of <> 0;

-- Ordered claims: is there an open delivery of the same webhook and key with a lower id? Only
-- open deliveries are in the index, so the answer is one probe (the first entry of the key is
-- its head) however long the key's history. Queries must repeat the WHERE exactly, or SQLite
-- will not use the index.
CREATE INDEX deliveries_ordering ON deliveries (webhook_id, ordering_key, id)
    WHERE ordering_key <> '' AND state IN ('pending', 'retrying', 'inflight', 'held');
-- Per webhook, the deliveries a pause holds (pending, retrying), a resume releases and a probe
-- takes the oldest of (held), without walking the webhook's whole history.
CREATE INDEX deliveries_webhook_waiting ON deliveries (webhook_id, state, next_attempt_at)
    WHERE state IN ('pending', 'retrying', 'held');
