-- Device heartbeats (issue 9): when each activated booth PC was last heard from and what
-- its agent reported, and the last reported state of each CUPS queue on it.
ALTER TABLE license_activations ADD COLUMN last_seen_at DATETIME;
ALTER TABLE license_activations ADD COLUMN agent_version TEXT;
ALTER TABLE license_activations ADD COLUMN free_disk_bytes INTEGER;
ALTER TABLE license_activations ADD COLUMN queue_depth INTEGER;
ALTER TABLE license_activations ADD COLUMN outbox_depth INTEGER;
-- Devices activated before heartbeats were last heard from when they last validated.
UPDATE license_activations SET last_seen_at = COALESCE(last_validated_at, created_at);
CREATE INDEX license_activations_last_seen ON license_activations (last_seen_at, id);

CREATE TABLE device_printers (
  activation_id TEXT NOT NULL REFERENCES license_activations(id) ON DELETE CASCADE,
  customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  printer_id TEXT REFERENCES printers(id) ON DELETE SET NULL,
  state TEXT NOT NULL CHECK (state IN ('idle', 'printing', 'stopped')),
  reason TEXT,
  markers TEXT NOT NULL DEFAULT '[]',
  reported_at DATETIME NOT NULL,
  PRIMARY KEY (activation_id, name)
);
CREATE INDEX device_printers_state ON device_printers (state, reported_at, activation_id, name);
