-- hookd schema, version 6: the log listing at millions of deliveries (issue 5).
--
-- The listing's `total` is exact (DocSpace clients page with it), and counting millions of
-- rows per request is what made it slow. The deliveries are counted per hour of
-- delivered_on, webhook, trigger and status class, by triggers in the transaction that
-- changes them, whoever writes. A total is then a sum of a few hundred rows, plus the
-- deliveries of at most two partial hours at the edges of a date range (listing.go).
--
-- bucket: delivery_hour(delivered_on), the hour since 1970 (floor), or -4611686018427387904
--   for deliveries never attempted (delivered_on NULL); no hour reaches that far back.
-- class: delivery_class(status, attempts), what hookd.GroupStatus.Includes looks at: 2 × the
--   status class (0: none, 1: below 200, 2: 2xx, 3: 3xx, 4: 4xx, 5: 5xx and above) + 1 when
--   attempted.
-- lo, hi: bounds of the ids counted in the row. They only widen (a delivery that leaves the
--   row leaves them as they were), so they bound, never miss, the ids of the row; a removal
--   carries NULL.
--
-- Several nodes write at once, and the current hour's rows (and the never-attempted ones,
-- which every publish and every first attempt touch) are hot: updating them in place would
-- make every writer wait for the previous one's commit. So writers only append deltas to
-- delivery_count_deltas, which no writer ever waits on, and a read sums delivery_counts and
-- the deltas. Now and then (every 512 delta ids) the writer that crosses the mark folds the
-- committed deltas into delivery_counts, when no other fold is running
-- (pg_try_advisory_xact_lock: it never waits) and it runs at READ COMMITTED (its DELETE then
-- sees the previous fold's work). Only the fold updates delivery_counts, one fold at a time,
-- so no lock there is ever waited on either.

-- STABLE like extract on a timestamptz (the epoch does not depend on the time zone, but other
-- fields do), so that queries inline it.
CREATE FUNCTION delivery_hour(t timestamptz) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce(floor(extract(epoch FROM t) / 3600)::bigint, -4611686018427387904);

CREATE FUNCTION delivery_class(status integer, attempts integer) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (CASE WHEN status = 0 THEN 0 WHEN status BETWEEN 200 AND 299 THEN 4
        WHEN status BETWEEN 300 AND 399 THEN 6 WHEN status BETWEEN 400 AND 499 THEN 8
        WHEN status >= 500 THEN 10 ELSE 2 END + CASE WHEN attempts > 0 THEN 1 ELSE 0 END)::smallint;

CREATE TABLE delivery_counts (
    bucket     bigint   NOT NULL,
    webhook_id bigint   NOT NULL,
    trigger    bigint   NOT NULL,
    class      smallint NOT NULL,
    n          bigint   NOT NULL,
    lo         bigint,
    hi         bigint,
    PRIMARY KEY (bucket, webhook_id, trigger, class)
);

-- Insert-only between folds: no index, no key, nothing to wait on.
CREATE TABLE delivery_count_deltas (
    id         bigint   GENERATED ALWAYS AS IDENTITY,
    bucket     bigint   NOT NULL,
    webhook_id bigint   NOT NULL,
    trigger    bigint   NOT NULL,
    class      smallint NOT NULL,
    n          bigint   NOT NULL,
    lo         bigint,
    hi         bigint
);

-- delivery_counts_fold moves the committed deltas into delivery_counts, keys in order, and
-- drops the rows left at zero; it does nothing when another fold runs or the transaction is
-- not READ COMMITTED.
CREATE FUNCTION delivery_counts_fold() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    zb bigint[]; zw bigint[]; zt bigint[]; zc smallint[];
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed'
        OR NOT pg_try_advisory_xact_lock(114849017653347) THEN -- "hookdc"
        RETURN;
    END IF;
    WITH gone AS (
        DELETE FROM delivery_count_deltas RETURNING bucket, webhook_id, trigger, class, n, lo, hi
    ), up AS (
        INSERT INTO delivery_counts AS c (bucket, webhook_id, trigger, class, n, lo, hi)
        SELECT bucket, webhook_id, trigger, class, sum(n), min(lo), max(hi)
        FROM gone GROUP BY bucket, webhook_id, trigger, class
        ORDER BY bucket, webhook_id, trigger, class
        ON CONFLICT (bucket, webhook_id, trigger, class) DO UPDATE
            SET n = c.n + excluded.n, lo = least(c.lo, excluded.lo), hi = greatest(c.hi, excluded.hi)
        RETURNING c.bucket, c.webhook_id, c.trigger, c.class, c.n
    )
    SELECT array_agg(bucket), array_agg(webhook_id), array_agg(trigger), array_agg(class)
    INTO zb, zw, zt, zc
    FROM up WHERE n = 0;
    IF zb IS NOT NULL THEN
        DELETE FROM delivery_counts c
        USING unnest(zb, zw, zt, zc) AS z(bucket, webhook_id, trigger, class)
        WHERE c.bucket = z.bucket AND c.webhook_id = z.webhook_id AND c.trigger = z.trigger
            AND c.class = z.class AND c.n = 0;
    END IF;
END $$;

-- delivery_counts_maybe_fold folds when the deltas this session just appended (added of
-- them) took an id past a multiple of 512 (about: ids of concurrent statements interleave).
CREATE FUNCTION delivery_counts_maybe_fold(added bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF added > 0 AND currval('delivery_count_deltas_id_seq') % 512 < added THEN
        PERFORM delivery_counts_fold();
    END IF;
END $$;

-- The triggers run once per statement, on the statement's rows: a publish or an
-- AttemptRecord of many deliveries appends one delta per group, not per delivery.
CREATE FUNCTION deliveries_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO delivery_count_deltas (bucket, webhook_id, trigger, class, n, lo, hi)
        SELECT delivery_hour(delivered_on), webhook_id, trigger, delivery_class(status, attempts),
            count(*), min(id), max(id)
        FROM new_rows GROUP BY 1, 2, 3, 4;
    ELSE
        INSERT INTO delivery_count_deltas (bucket, webhook_id, trigger, class, n)
        SELECT delivery_hour(delivered_on), webhook_id, trigger, delivery_class(status, attempts), -count(*)
        FROM old_rows GROUP BY 1, 2, 3, 4;
    END IF;
    GET DIAGNOSTICS added = ROW_COUNT;
    PERFORM delivery_counts_maybe_fold(added);
    RETURN NULL;
END $$;

-- Claims, leases and holds change none of the counted columns: the join drops their rows
-- before computing any key, and they append nothing. MATERIALIZED computes each key once.
CREATE FUNCTION deliveries_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added bigint;
BEGIN
    WITH moved AS MATERIALIZED (
        SELECT delivery_hour(o.delivered_on) AS ob, o.webhook_id AS ow, o.trigger AS ot,
            delivery_class(o.status, o.attempts) AS oc,
            delivery_hour(w.delivered_on) AS nb, w.webhook_id AS nw, w.trigger AS nt,
            delivery_class(w.status, w.attempts) AS nc, w.id
        FROM old_rows o JOIN new_rows w ON w.id = o.id
        WHERE o.delivered_on IS DISTINCT FROM w.delivered_on OR o.status <> w.status
            OR o.attempts <> w.attempts OR o.webhook_id <> w.webhook_id OR o.trigger <> w.trigger
    )
    INSERT INTO delivery_count_deltas (bucket, webhook_id, trigger, class, n, lo, hi)
    SELECT k.bucket, k.webhook_id, k.trigger, k.class, sum(k.n), min(k.lo), max(k.hi)
    FROM moved m CROSS JOIN LATERAL (VALUES (m.ob, m.ow, m.ot, m.oc, -1, NULL::bigint, NULL::bigint),
        (m.nb, m.nw, m.nt, m.nc, 1, m.id, m.id)) AS k(bucket, webhook_id, trigger, class, n, lo, hi)
    WHERE (m.ob, m.ow, m.ot, m.oc) <> (m.nb, m.nw, m.nt, m.nc)
    GROUP BY 1, 2, 3, 4;
    GET DIAGNOSTICS added = ROW_COUNT;
    PERFORM delivery_counts_maybe_fold(added);
    RETURN NULL;
END $$;

CREATE FUNCTION deliveries_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM delivery_count_deltas;
    DELETE FROM delivery_counts;
    RETURN NULL;
END $$;

-- The triggers first (their lock on deliveries holds writers until this migration commits),
-- then the count of what is there.
CREATE TRIGGER deliveries_count_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION deliveries_count_rows();
CREATE TRIGGER deliveries_count_delete AFTER DELETE ON deliveries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION deliveries_count_rows();
CREATE TRIGGER deliveries_count_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION deliveries_count_update();
CREATE TRIGGER deliveries_count_truncate AFTER TRUNCATE ON deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION deliveries_count_truncate();

INSERT INTO delivery_counts (bucket, webhook_id, trigger, class, n, lo, hi)
SELECT delivery_hour(delivered_on), webhook_id, trigger, delivery_class(status, attempts), count(*), min(id), max(id)
FROM deliveries GROUP BY 1, 2, 3, 4;
