-- hookd schema, version 4: replay jobs (POST /api/2.0/webhooks/replays).

-- A job re-sends, as new deliveries, the deliveries that matched a log filter when it was
-- created. The filter is kept as it was given (columns f_*), with max_id the pin.
CREATE TABLE replays (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'cancelled')),
    f_delivery_from INTEGER,
    f_delivery_to   INTEGER,
    f_hook_uri      TEXT,
    f_webhook_id    INTEGER,
    f_delivery_id   INTEGER,
    f_group_status  INTEGER NOT NULL DEFAULT 0,
    f_created_by    TEXT,
    f_trigger       INTEGER NOT NULL DEFAULT 0,
    max_id          INTEGER NOT NULL,
    exclude_retried INTEGER NOT NULL,
    rate            INTEGER NOT NULL,
    window_size     INTEGER NOT NULL,
    idempotency_key TEXT    NOT NULL DEFAULT '',
    created_by      TEXT    NOT NULL DEFAULT '',
    created_on      INTEGER NOT NULL,
    started_on      INTEGER,
    finished_on     INTEGER,
    next_step_at    INTEGER NOT NULL,
    total           INTEGER NOT NULL DEFAULT 0,
    retried         INTEGER NOT NULL DEFAULT 0,
    skipped         INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    cancelled       INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The same key by the same user names the same job: a repeated request finds it here.
CREATE UNIQUE INDEX replays_idempotency ON replays (created_by, idempotency_key) WHERE idempotency_key <> '';
-- The runner's question: which active job is due first.
CREATE INDEX replays_due ON replays (next_step_at) WHERE state IN ('queued', 'running');

-- One row per pinned delivery. delivery_id is a history pointer, not a foreign key: retention
-- may remove the delivery before its turn (the item then fails).
CREATE TABLE replay_items (
    replay_id       INTEGER NOT NULL REFERENCES replays (id) ON DELETE CASCADE,
    delivery_id     INTEGER NOT NULL,
    state           TEXT    NOT NULL
        CHECK (state IN ('pending', 'retried', 'skipped', 'failed', 'cancelled')),
    new_delivery_id INTEGER NOT NULL DEFAULT 0,
    processed_on    INTEGER,
    PRIMARY KEY (replay_id, delivery_id)
) STRICT, WITHOUT ROWID;

-- A step takes the next pending items in id order; the window looks at the newest retried
-- ones; the items listing filters by state.
CREATE INDEX replay_items_state ON replay_items (replay_id, state, delivery_id);

-- "Already retried?": a job with exclude_retried looks for a delivery pointing at each item.
CREATE INDEX deliveries_retry_of ON deliveries (retry_of) WHERE retry_of <> 0;
