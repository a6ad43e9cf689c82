-- Guest sessions (issue #7): one visit at one booth, from payment to prints to the
-- guest's gallery. Rows are kept for accounting after a gallery's objects are purged.
-- activation_id: the booth device that opened it (a deactivated device leaves its
--   sessions in place). payment_id: the payment that paid for it (free sessions have
--   none); one payment pays one session. share_code is shown in share_url; lookups go by
--   its SHA-256 (share_hash), so the index search's timing says nothing about the code.
-- (No comments inside CREATE TABLE: SQLite keeps them in sqlite_master, and the schema
--  must read the same on D1, which strips them, and in a one-line-per-statement dump.)
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  activation_id TEXT REFERENCES license_activations(id) ON DELETE SET NULL,
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'abandoned')),
  payment_id TEXT REFERENCES payments(id),
  share_code TEXT NOT NULL,
  share_hash TEXT NOT NULL,
  expires_at DATETIME NOT NULL,
  revoked_at DATETIME,
  purged_at DATETIME,
  closed_at DATETIME,
  created_at DATETIME NOT NULL DEFAULT (datetime('now')),
  updated_at DATETIME NOT NULL DEFAULT (datetime('now'))
);
CREATE UNIQUE INDEX sessions_share_hash ON sessions (share_hash);
CREATE UNIQUE INDEX sessions_payment ON sessions (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX sessions_customer ON sessions (customer_id, created_at, id);
CREATE INDEX sessions_activation ON sessions (activation_id, created_at, id);
CREATE INDEX sessions_created ON sessions (created_at, id);
-- The abandon job scans open sessions only; the retention job unpurged ones only.
CREATE INDEX sessions_open ON sessions (created_at) WHERE status = 'open';
CREATE INDEX sessions_unpurged ON sessions (expires_at) WHERE purged_at IS NULL;

ALTER TABLE photos ADD COLUMN session_id TEXT REFERENCES sessions(id);
-- The gallery's small JPEG, derived once per photo and stored beside the original.
ALTER TABLE photos ADD COLUMN thumb_key TEXT;
-- When the retention job deleted the photo's objects (the row stays for accounting).
ALTER TABLE photos ADD COLUMN purged_at DATETIME;
CREATE INDEX photos_session ON photos (session_id, created_at, id) WHERE session_id IS NOT NULL;

ALTER TABLE payments ADD COLUMN session_id TEXT REFERENCES sessions(id);
CREATE INDEX payments_session ON payments (session_id) WHERE session_id IS NOT NULL;

-- Branding of the gallery page: the object key of the customer's logo (optional).
ALTER TABLE customers ADD COLUMN gallery_logo_key TEXT;

-- Gallery opens and downloads per customer and UTC day: counted, never per guest.
CREATE TABLE gallery_daily (
  customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  day TEXT NOT NULL,
  gallery_opens INTEGER NOT NULL DEFAULT 0,
  downloads INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (customer_id, day)
);
