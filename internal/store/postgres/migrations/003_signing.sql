-- hookd schema, version 3: Standard Webhooks signing and secret rotation.

ALTER TABLE webhooks
    -- send the Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature)
    -- beside the DocSpace signature
    ADD COLUMN standard_signing boolean NOT NULL DEFAULT false,
    -- the secret the last rotation replaced and until when it still signs; '' and NULL when
    -- there is none. Cleared lazily by the next update after it expires.
    ADD COLUMN previous_secret text NOT NULL DEFAULT '',
    ADD COLUMN previous_secret_until timestamptz;
