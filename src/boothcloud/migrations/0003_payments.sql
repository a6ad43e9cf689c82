-- Payments through Xendit: invoice details on the payment, review flags, the Xendit
-- sub-account of a customer (xenPlatform), webhook events recorded once per
-- (invoice id, status), idempotency keys scoped per customer, and list indexes.
ALTER TABLE customers ADD COLUMN xendit_sub_account_id TEXT;

ALTER TABLE payments ADD COLUMN currency TEXT NOT NULL DEFAULT 'IDR';
ALTER TABLE payments ADD COLUMN description TEXT;
ALTER TABLE payments ADD COLUMN payer_email TEXT;
ALTER TABLE payments ADD COLUMN invoice_url TEXT;
ALTER TABLE payments ADD COLUMN expires_at DATETIME;
ALTER TABLE payments ADD COLUMN failure_reason TEXT;
ALTER TABLE payments ADD COLUMN paid_amount INTEGER;
ALTER TABLE payments ADD COLUMN payment_method TEXT;
ALTER TABLE payments ADD COLUMN payment_channel TEXT;
ALTER TABLE payments ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0
  CHECK (flagged IN (0, 1));
ALTER TABLE payments ADD COLUMN review_reason TEXT;
-- SQLite cannot add a column with a non-constant default: every write sets it.
ALTER TABLE payments ADD COLUMN updated_at DATETIME;

CREATE UNIQUE INDEX payments_xendit_id ON payments (xendit_payment_id)
  WHERE xendit_payment_id IS NOT NULL;
CREATE INDEX payments_created ON payments (created_at, id);
CREATE INDEX payments_customer ON payments (customer_id, created_at, id);
CREATE INDEX payments_status ON payments (status, created_at, id);
CREATE INDEX payments_flagged ON payments (flagged, created_at, id) WHERE flagged = 1;

-- One row per Xendit callback (or reconciliation observation), keyed by invoice id and
-- status: a duplicate delivery hits the UNIQUE key and is processed once.
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
CREATE INDEX xendit_events_external ON xendit_events (external_id, received_at);

-- Idempotency-Key of POST /api/payments, scoped to the customer the payment is for.
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
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
