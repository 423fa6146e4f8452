-- hookd schema, version 1.
--
-- Times are INTEGER unix microseconds in UTC everywhere (the precision PostgreSQL keeps too).
-- Ids use AUTOINCREMENT so that an id is never reused after a delete: delivery ids are the
-- event.id receivers see, and DeliveryFilter.MaxID pins listings by id.

CREATE TABLE keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    hint       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    created_on INTEGER NOT NULL,
    expires_on INTEGER,
    revoked_on INTEGER
) STRICT;

CREATE TABLE webhooks (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    name                 TEXT    NOT NULL,
    uri                  TEXT    NOT NULL,
    secret               TEXT    NOT NULL,
    ssl                  INTEGER NOT NULL,
    enabled              INTEGER NOT NULL,
    triggers             INTEGER NOT NULL,
    target_id            TEXT    NOT NULL DEFAULT '',
    created_by           TEXT    NOT NULL DEFAULT '',
    created_on           INTEGER NOT NULL,
    modified_by          TEXT    NOT NULL DEFAULT '',
    modified_on          INTEGER,
    last_failure_on      INTEGER,
    last_failure_content TEXT    NOT NULL DEFAULT '',
    last_success_on      INTEGER,
    disabled_reason      TEXT    NOT NULL DEFAULT '',
    -- status of the newest recorded attempt, kept by AttemptRecord so WebhookList needs no join
    last_status          INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX webhooks_created_by ON webhooks (created_by);
CREATE INDEX webhooks_name_uri ON webhooks (name, uri);

-- The payload lives here once, however many deliveries the event has.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger_id INTEGER NOT NULL,
    payload    BLOB    NOT NULL,
    target_id  TEXT    NOT NULL DEFAULT '',
    created_by TEXT    NOT NULL DEFAULT '',
    created_on INTEGER NOT NULL
) STRICT;

-- A delivery row is both the log entry users see and the job the dispatcher claims.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL REFERENCES events (id),
    trigger_id      INTEGER NOT NULL,
    state           TEXT    NOT NULL
        CHECK (state IN ('pending', 'inflight', 'delivered', 'retrying', 'failed')),
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
    last_attempt_id INTEGER
) STRICT;

-- Claiming: each due state is an index range already ordered by (next_attempt_at, id), so a
-- claim reads only the rows it takes. Also serves DeliveryNextDue (min per state).
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
-- Log listing per webhook, newest first, and the ON DELETE CASCADE from webhooks.
-- (Listing across all webhooks walks the primary key backwards.)
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
-- deliveryFrom / deliveryTo filters.
CREATE INDEX deliveries_delivered_on ON deliveries (delivered_on);

CREATE TABLE attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id      INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number           INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    duration_ns      INTEGER NOT NULL,
    request_headers  TEXT,
    request_body     BLOB    NOT NULL,
    status           INTEGER NOT NULL,
    response_headers TEXT,
    response_body    BLOB    NOT NULL,
    error            TEXT    NOT NULL DEFAULT ''
) STRICT;

-- AttemptList order, the next attempt number, and the cascade from deliveries.
CREATE UNIQUE INDEX attempts_delivery_number ON attempts (delivery_id, number);
