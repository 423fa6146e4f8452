-- hookd schema, version 6: the log listing at millions of deliveries (issue 5), and a smaller
-- index for held deliveries.

-- Held deliveries per webhook, for resuming and probing. Pausing (rare) finds the pending and
-- retrying deliveries through deliveries_due instead: an index of every waiting delivery per
-- webhook cost two index writes per delivery on the hot path.
DROP INDEX deliveries_webhook_waiting;
CREATE INDEX deliveries_held ON deliveries (webhook_id, next_attempt_at) WHERE state = 'held';

-- The listing's `total` is exact (DocSpace clients page with it), and counting millions of
-- rows per request is what made it slow. delivery_counts keeps, per hour of delivered_on, per
-- webhook, trigger and status class, how many deliveries there are; the triggers below keep
-- it in step with deliveries in the same transaction, whoever writes. A count is then a sum of
-- a few hundred rows, plus the deliveries of at most two partial hours at the edges of a date
-- range (listing.go).
--
-- bucket: delivered_on / 3600000000 (the hour), or -4611686018427387904 for deliveries never
--   attempted (delivered_on NULL); no hour reaches that far back.
-- class: what hookd.GroupStatus.Includes looks at: 2 × the status class (0: none, 1: below
--   200, 2: 2xx, 3: 3xx, 4: 4xx, 5: 5xx and above) + 1 when attempted.
-- lo, hi: the lowest and highest delivery id ever counted in the row. They only widen (a
--   delivery that leaves the row leaves them as they were), so they bound, never miss, the ids
--   of the row: the listing walks ids between them only.
CREATE TABLE delivery_counts (
    bucket     INTEGER NOT NULL,
    webhook_id INTEGER NOT NULL,
    trigger_id INTEGER NOT NULL,
    class      INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    lo         INTEGER NOT NULL,
    hi         INTEGER NOT NULL,
    PRIMARY KEY (bucket, webhook_id, trigger_id, class)
) STRICT, WITHOUT ROWID;

INSERT INTO delivery_counts (bucket, webhook_id, trigger_id, class, n, lo, hi)
SELECT COALESCE(delivered_on / 3600000000, -4611686018427387904), webhook_id, trigger_id,
    (CASE WHEN status = 0 THEN 0 WHEN status BETWEEN 200 AND 299 THEN 4 WHEN status BETWEEN 300 AND 399 THEN 6
        WHEN status BETWEEN 400 AND 499 THEN 8 WHEN status >= 500 THEN 10 ELSE 2 END + (attempts > 0)),
    COUNT(*), MIN(id), MAX(id)
FROM deliveries GROUP BY 1, 2, 3, 4;

CREATE TRIGGER deliveries_count_insert AFTER INSERT ON deliveries BEGIN
    INSERT INTO delivery_counts (bucket, webhook_id, trigger_id, class, n, lo, hi)
    VALUES (COALESCE(NEW.delivered_on / 3600000000, -4611686018427387904), NEW.webhook_id, NEW.trigger_id,
        (CASE WHEN NEW.status = 0 THEN 0 WHEN NEW.status BETWEEN 200 AND 299 THEN 4 WHEN NEW.status BETWEEN 300 AND 399 THEN 6
            WHEN NEW.status BETWEEN 400 AND 499 THEN 8 WHEN NEW.status >= 500 THEN 10 ELSE 2 END + (NEW.attempts > 0)),
        1, NEW.id, NEW.id)
    ON CONFLICT (bucket, webhook_id, trigger_id, class) DO UPDATE
        SET n = n + 1, lo = min(lo, excluded.lo), hi = max(hi, excluded.hi);
END;

CREATE TRIGGER deliveries_count_delete AFTER DELETE ON deliveries BEGIN
    UPDATE delivery_counts SET n = n - 1
    WHERE bucket = COALESCE(OLD.delivered_on / 3600000000, -4611686018427387904)
        AND webhook_id = OLD.webhook_id AND trigger_id = OLD.trigger_id
        AND class = (CASE WHEN OLD.status = 0 THEN 0 WHEN OLD.status BETWEEN 200 AND 299 THEN 4 WHEN OLD.status BETWEEN 300 AND 399 THEN 6
            WHEN OLD.status BETWEEN 400 AND 499 THEN 8 WHEN OLD.status >= 500 THEN 10 ELSE 2 END + (OLD.attempts > 0));
END;

-- Claims and leases change none of these columns, so the trigger runs once per attempt only.
CREATE TRIGGER deliveries_count_update AFTER UPDATE OF delivered_on, status, attempts, webhook_id, trigger_id ON deliveries
WHEN COALESCE(OLD.delivered_on / 3600000000, -4611686018427387904) <> COALESCE(NEW.delivered_on / 3600000000, -4611686018427387904)
    OR (CASE WHEN OLD.status = 0 THEN 0 WHEN OLD.status BETWEEN 200 AND 299 THEN 4 WHEN OLD.status BETWEEN 300 AND 399 THEN 6
            WHEN OLD.status BETWEEN 400 AND 499 THEN 8 WHEN OLD.status >= 500 THEN 10 ELSE 2 END + (OLD.attempts > 0))
        <> (CASE WHEN NEW.status = 0 THEN 0 WHEN NEW.status BETWEEN 200 AND 299 THEN 4 WHEN NEW.status BETWEEN 300 AND 399 THEN 6
            WHEN NEW.status BETWEEN 400 AND 499 THEN 8 WHEN NEW.status >= 500 THEN 10 ELSE 2 END + (NEW.attempts > 0))
    OR OLD.webhook_id <> NEW.webhook_id OR OLD.trigger_id <> NEW.trigger_id
BEGIN
    UPDATE delivery_counts SET n = n - 1
    WHERE bucket = COALESCE(OLD.delivered_on / 3600000000, -4611686018427387904)
        AND webhook_id = OLD.webhook_id AND trigger_id = OLD.trigger_id
        AND class = (CASE WHEN OLD.status = 0 THEN 0 WHEN OLD.status BETWEEN 200 AND 299 THEN 4 WHEN OLD.status BETWEEN 300 AND 399 THEN 6
            WHEN OLD.status BETWEEN 400 AND 499 THEN 8 WHEN OLD.status >= 500 THEN 10 ELSE 2 END + (OLD.attempts > 0));
    INSERT INTO delivery_counts (bucket, webhook_id, trigger_id, class, n, lo, hi)
    VALUES (COALESCE(NEW.delivered_on / 3600000000, -4611686018427387904), NEW.webhook_id, NEW.trigger_id,
        (CASE WHEN NEW.status = 0 THEN 0 WHEN NEW.status BETWEEN 200 AND 299 THEN 4 WHEN NEW.status BETWEEN 300 AND 399 THEN 6
            WHEN NEW.status BETWEEN 400 AND 499 THEN 8 WHEN NEW.status >= 500 THEN 10 ELSE 2 END + (NEW.attempts > 0)),
        1, NEW.id, NEW.id)
    ON CONFLICT (bucket, webhook_id, trigger_id, class) DO UPDATE
        SET n = n + 1, lo = min(lo, excluded.lo), hi = max(hi, excluded.hi);
END;

-- One webhook's deliveries of one status class, newest first: a page of `configId` +
-- `groupStatus` is one range of this index (one range per class, merged, when several match),
-- without reading the rows it skips. The expression is the class of delivery_counts and must
-- be written the same in the queries (listing.go) for SQLite to use the index.
CREATE INDEX deliveries_webhook_class ON deliveries (webhook_id,
    (CASE WHEN status = 0 THEN 0 WHEN status BETWEEN 200 AND 299 THEN 4 WHEN status BETWEEN 300 AND 399 THEN 6
        WHEN status BETWEEN 400 AND 499 THEN 8 WHEN status >= 500 THEN 10 ELSE 2 END + (attempts > 0)), id);
