-- hookd schema, version 5: endpoint health (held deliveries, probes), ordered delivery, and the
-- attempt numbering of set-based AttemptRecord. Every new column has a constant default, so
-- adding it rewrites no table.

ALTER TABLE webhooks
    ADD COLUMN ordered       boolean NOT NULL DEFAULT false,
    -- '' is a webhook that never left healthy (it reads as healthy)
    ADD COLUMN health        text    NOT NULL DEFAULT ''
        CHECK (health IN ('', 'healthy', 'degraded', 'paused')),
    ADD COLUMN health_reason text    NOT NULL DEFAULT '',
    ADD COLUMN health_since  timestamptz,
    ADD COLUMN probe_at      timestamptz, -- paused: when the next probe goes out
    ADD COLUMN probes        integer NOT NULL DEFAULT 0;

ALTER TABLE events
    ADD COLUMN ordering_key text NOT NULL DEFAULT '';

ALTER TABLE deliveries
    -- the event's key when the webhook was ordered at fan-out (or at the manual retry)
    ADD COLUMN ordering_key   text    NOT NULL DEFAULT '',
    -- attempts stored without moving the delivery (a stale claim's); with attempts, the
    -- number of the next attempt, so that AttemptRecord never reads max(number)
    ADD COLUMN extra_attempts integer NOT NULL DEFAULT 0,
    DROP CONSTRAINT deliveries_state_check,
    ADD CONSTRAINT deliveries_state_check
        CHECK (state IN ('pending', 'inflight', 'delivered', 'retrying', 'failed', 'held'));

-- The deliveries not final yet, per webhook and ordering key. It answers, with one index probe
-- each: whether a keyed delivery has an earlier one of its key still to go (DeliveryClaim),
-- which deliveries of a webhook to hold or release, and its oldest held one (the probe).
-- Final deliveries leave it, so it stays the size of the backlog, not of the history.
CREATE INDEX deliveries_open ON deliveries (webhook_id, ordering_key, id)
    WHERE state IN ('pending', 'retrying', 'inflight', 'held');

-- The log listing filtered by webhook (configId) and status class (groupStatus) counts and
-- pages through this index alone: status and attempts are what those filters read, so both
-- are index-only scans instead of a heap visit per delivery (at 1 M deliveries, a count of one
-- webhook's 2xx went from 280 to 88 ms, its page 1,000 from 230 to 60 ms). The key is
-- unchanged; the index is rebuilt with the extra columns.
DROP INDEX deliveries_webhook;
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id) INCLUDE (status, attempts);
