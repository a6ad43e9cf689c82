-- Photos and printers: what the print queue and the printer list need.
-- SQLite cannot add a column with a non-constant default: every write sets these.
ALTER TABLE photos ADD COLUMN updated_at DATETIME;
-- When the photo last went to `printing`; a photo printing for longer than
-- print_stuck_after_seconds goes back to `pending` (a crashed booth loses no print).
ALTER TABLE photos ADD COLUMN claimed_at DATETIME;
-- SHA-256 of the create request (customer, r2_key, printer_id): a retried POST with the
-- same id and body answers 200 with the row; a different body with that id answers 409.
ALTER TABLE photos ADD COLUMN request_hash TEXT;

-- The claim: oldest pending photo of a customer, in (created_at, id) order.
CREATE INDEX photos_queue ON photos (customer_id, print_status, created_at, id);
CREATE INDEX photos_customer ON photos (customer_id, created_at, id);
CREATE INDEX photos_created ON photos (created_at, id);
CREATE INDEX photos_printer ON photos (printer_id, print_status) WHERE printer_id IS NOT NULL;
-- Stuck-print recovery scans only the photos being printed. Photos already printing
-- before this migration count from their creation.
UPDATE photos SET claimed_at = created_at WHERE print_status = 'printing';
CREATE INDEX photos_printing ON photos (customer_id, claimed_at) WHERE print_status = 'printing';
-- One object per photo: deleting a photo (erasure) must never delete another's object.
CREATE UNIQUE INDEX photos_r2_key ON photos (r2_key);

CREATE INDEX printers_customer ON printers (customer_id, is_default, created_at, id);
-- The schema itself guarantees at most one default printer per customer.
CREATE UNIQUE INDEX printers_one_default ON printers (customer_id) WHERE is_default = 1;
