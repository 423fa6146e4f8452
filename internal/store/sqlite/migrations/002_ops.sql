-- hookd schema, version 2: indexes for retention (DeliveryPrune).

-- Finished deliveries by age: a prune batch reads the oldest ones and stops after the batch.
-- The WHERE must stay identical to the prune query's, or SQLite will not use the index.
CREATE INDEX deliveries_final_created_on ON deliveries (created_on) WHERE state IN ('delivered', 'failed');
-- Whether an event still has deliveries, when a prune removes one; also what the foreign key
-- check needs when an event is deleted.
CREATE INDEX deliveries_event ON deliveries (event_id);
-- Events published to no webhook at all, swept by age.
CREATE INDEX events_created_on ON events (created_on);
