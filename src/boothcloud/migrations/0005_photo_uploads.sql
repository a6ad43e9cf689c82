-- Photos are claimable only once their object exists (issue #12, item 6).
-- When the object was confirmed (a signed PUT landed on the local store, or the booth's
-- `POST /api/photos/{id}/uploaded` found it with a HEAD on S3/R2), and what landed.
ALTER TABLE photos ADD COLUMN uploaded_at DATETIME;
ALTER TABLE photos ADD COLUMN object_size INTEGER;
ALTER TABLE photos ADD COLUMN content_type TEXT;
-- Photos logged before this migration stay unconfirmed: nothing here knows whether their
-- object exists. A confirm (booth or operator) makes them claimable again.

-- The claim: the oldest pending, uploaded photo of a customer, in (created_at, id) order.
-- Partial, so photos still waiting for their bytes are never scanned by a claim, and
-- small (only the waiting queue). `print_status` is constant here, but naming it makes
-- SQLite's planner prefer this index over photos_queue (same equality columns).
CREATE INDEX photos_claimable ON photos (customer_id, print_status, created_at, id)
  WHERE print_status = 'pending' AND uploaded_at IS NOT NULL;
-- `r2_key` lookups by the local store's PUT use the unique index photos_r2_key.
