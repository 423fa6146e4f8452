-- hookd schema, version 3: Standard Webhooks signing and secret rotation.

-- Send the Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature)
-- beside the DocSpace signature.
ALTER TABLE webhooks ADD COLUMN standard_signing INTEGER NOT NULL DEFAULT 0;
-- The secret the last rotation replaced and until when (unix microseconds) it still signs;
-- '' and NULL when there is none. Cleared lazily by the next update after it expires.
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN previous_secret_until INTEGER;
