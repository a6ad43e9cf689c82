PRAGMA defer_foreign_keys=TRUE;
CREATE TABLE d1_migrations(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);
INSERT INTO "d1_migrations" VALUES(1,'0001_init.sql','2026-11-25 19:31:40');
INSERT INTO "d1_migrations" VALUES(2,'0002_licenses.sql','2026-11-25 19:31:40');
INSERT INTO "d1_migrations" VALUES(3,'0003_payments.sql','2026-11-25 19:31:41');
INSERT INTO "d1_migrations" VALUES(4,'0004_photos_printers.sql','2026-11-25 19:31:41');
CREATE TABLE customers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT UNIQUE NOT NULL,
  phone TEXT,
  license_key TEXT UNIQUE NOT NULL,
  license_type TEXT NOT NULL DEFAULT 'starter',
  purchase_date DATETIME NOT NULL,
  created_at DATETIME NOT NULL DEFAULT (datetime('now')),
  updated_at DATETIME NOT NULL DEFAULT (datetime('now'))
, license_status TEXT NOT NULL DEFAULT 'active'
  CHECK (license_status IN ('active', 'suspended')), license_expires_at DATETIME, xendit_sub_account_id TEXT);
INSERT INTO "customers" VALUES('cus_01','Photobox "Grand" O''Neil','a@example.com',NULL,'PB-AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF','pro','2026-11-01 10:00:00','2026-11-01 10:00:00','2026-11-01 10:00:00','active',NULL,NULL);
INSERT INTO "customers" VALUES('cus_02',replace('Line one\nline two','\n',char(10)),'b@example.com','+62 812','PB-GGGGG-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF','starter','2026-11-02 10:00:00','2026-11-02 10:00:00','2026-11-02 10:00:00','active',NULL,NULL);
CREATE TABLE payments (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  xendit_payment_id TEXT,
  amount INTEGER NOT NULL,
  platform_fee INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  paid_at DATETIME,
  created_at DATETIME NOT NULL DEFAULT (datetime('now')), currency TEXT NOT NULL DEFAULT 'IDR', description TEXT, payer_email TEXT, invoice_url TEXT, expires_at DATETIME, failure_reason TEXT, paid_amount INTEGER, payment_method TEXT, payment_channel TEXT, flagged INTEGER NOT NULL DEFAULT 0
  CHECK (flagged IN (0, 1)), review_reason TEXT, updated_at DATETIME,
  FOREIGN KEY (customer_id) REFERENCES customers(id)
);
INSERT INTO "payments" VALUES('pay_01','cus_01','inv_1',25000,750,'completed',NULL,'2026-11-25 19:31:42','IDR',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,NULL,NULL);
CREATE TABLE photos (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  r2_key TEXT NOT NULL,
  print_status TEXT NOT NULL DEFAULT 'pending',
  printer_id TEXT,
  created_at DATETIME NOT NULL DEFAULT (datetime('now')), updated_at DATETIME, claimed_at DATETIME, request_hash TEXT,
  FOREIGN KEY (customer_id) REFERENCES customers(id)
);
INSERT INTO "photos" VALUES('pho_01','cus_02','photos/cus_02/a.jpg','pending',NULL,'2026-11-25 19:31:42',NULL,NULL,NULL);
CREATE TABLE printers (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  connection_type TEXT NOT NULL,
  is_default INTEGER NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL DEFAULT (datetime('now')),
  FOREIGN KEY (customer_id) REFERENCES customers(id)
);
INSERT INTO "printers" VALUES('prn_01','cus_02','DNP ''DS620''','dye-sub','usb',1,'2026-11-25 19:31:42');
CREATE TABLE license_activations (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  fingerprint TEXT NOT NULL,
  name TEXT,
  created_at DATETIME NOT NULL DEFAULT (datetime('now')),
  last_validated_at DATETIME,
  CONSTRAINT license_activations_fingerprint UNIQUE (customer_id, fingerprint)
);
INSERT INTO "license_activations" VALUES('act_01','cus_01','fp-1','Booth 1','2026-11-25 19:31:42',NULL);
CREATE TABLE xendit_events (
  id TEXT PRIMARY KEY,
  event_key TEXT NOT NULL,
  invoice_id TEXT NOT NULL,
  external_id TEXT,
  status TEXT NOT NULL,
  amount INTEGER,
  paid_amount INTEGER,
  source TEXT NOT NULL CHECK (source IN ('webhook', 'reconcile')),
  payload TEXT NOT NULL,
  outcome TEXT,
  processed_at DATETIME,
  received_at DATETIME NOT NULL DEFAULT (datetime('now')),
  CONSTRAINT xendit_events_key UNIQUE (event_key)
);
CREATE TABLE idempotency_keys (
  customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  idempotency_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  payment_id TEXT NOT NULL REFERENCES payments(id),
  response_status INTEGER,
  response_body TEXT,
  created_at DATETIME NOT NULL DEFAULT (datetime('now')),
  expires_at DATETIME NOT NULL,
  PRIMARY KEY (customer_id, idempotency_key)
);
CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT, data BLOB, score REAL);
INSERT INTO "notes" VALUES(1,'tab	and ''quotes''',X'00ff10',1.5);
INSERT INTO "notes" VALUES(2,replace(replace('cr\rlf\nend','\r',char(13)),'\n',char(10)),NULL,-0.25);
DELETE FROM sqlite_sequence;
INSERT INTO "sqlite_sequence" VALUES('d1_migrations',4);
INSERT INTO "sqlite_sequence" VALUES('notes',2);
CREATE UNIQUE INDEX customers_email_lower ON customers (lower(email));
CREATE INDEX customers_license_type ON customers (license_type, created_at, id);
CREATE INDEX customers_created ON customers (created_at, id);
CREATE INDEX license_activations_customer ON license_activations (customer_id, created_at);
CREATE UNIQUE INDEX payments_xendit_id ON payments (xendit_payment_id)
  WHERE xendit_payment_id IS NOT NULL;
CREATE INDEX payments_created ON payments (created_at, id);
CREATE INDEX payments_customer ON payments (customer_id, created_at, id);
CREATE INDEX payments_status ON payments (status, created_at, id);
CREATE INDEX payments_flagged ON payments (flagged, created_at, id) WHERE flagged = 1;
CREATE INDEX xendit_events_external ON xendit_events (external_id, received_at);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
CREATE INDEX photos_queue ON photos (customer_id, print_status, created_at, id);
CREATE INDEX photos_customer ON photos (customer_id, created_at, id);
CREATE INDEX photos_created ON photos (created_at, id);
CREATE INDEX photos_printer ON photos (printer_id, print_status) WHERE printer_id IS NOT NULL;
CREATE INDEX photos_printing ON photos (claimed_at) WHERE print_status = 'printing';
CREATE UNIQUE INDEX photos_r2_key ON photos (r2_key);
CREATE INDEX printers_customer ON printers (customer_id, is_default, created_at, id);
CREATE UNIQUE INDEX printers_one_default ON printers (customer_id) WHERE is_default = 1;
CREATE TRIGGER notes_touch AFTER UPDATE ON notes BEGIN UPDATE notes SET score = score WHERE id = NEW.id; END;
CREATE VIEW paid AS SELECT id, amount FROM payments WHERE status = 'completed';