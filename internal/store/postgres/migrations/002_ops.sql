-- hookd schema, version 2: indexes for retention (DeliveryPrune).

-- Finished deliveries by age: a prune batch reads the oldest ones and stops after the batch.
CREATE INDEX deliveries_final_created_on ON deliveries (created_on) WHERE state IN ('delivered', 'failed');
-- Events published to no webhook at all, swept by age.
CREATE INDEX events_created_on ON events (created_on);
