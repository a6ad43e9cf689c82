-- Refunds of completed payments (issue #8): full or partial, by the operator or by the
-- paid-but-not-printed guarantee. id (`rfd_...`) is sent to Xendit as reference_id and
-- Idempotency-key, so a resumed request never makes a second Xendit refund.
-- status: pending (asked, or being asked), succeeded, failed; a failed refund gives its
--   amount back to the payment's refundable rest (the sum of pending and succeeded
--   refunds never exceeds the paid amount: refunds.service).
-- source: operator or automatic; note: why, in words (the operator's, or the guarantee's).
-- claimed_at: when a request last took the refund to send it to Xendit (NULL: released,
--   a retry or the refund job may resume it at once); see repository.take_over_refund.
-- idempotency_key/request_hash/response_*: the operator's Idempotency-Key, per payment.
-- (No comments inside CREATE TABLE: SQLite keeps them in sqlite_master, D1 strips them.)
CREATE TABLE refunds (
  id TEXT PRIMARY KEY,
  payment_id TEXT NOT NULL REFERENCES payments(id),
  customer_id TEXT NOT NULL REFERENCES customers(id),
  amount INTEGER NOT NULL CHECK (amount > 0),
  reason TEXT NOT NULL,
  note TEXT,
  source TEXT NOT NULL CHECK (source IN ('operator', 'automatic')),
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  xendit_refund_id TEXT,
  failure_code TEXT,
  claimed_at DATETIME,
  idempotency_key TEXT,
  request_hash TEXT,
  response_status INTEGER,
  response_body TEXT,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id, status, amount);
CREATE INDEX refunds_created ON refunds (created_at, id);
CREATE UNIQUE INDEX refunds_key ON refunds (payment_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX refunds_xendit_id ON refunds (xendit_refund_id)
  WHERE xendit_refund_id IS NOT NULL;
-- The guarantee refunds a payment at most once, whatever runs it how often.
CREATE UNIQUE INDEX refunds_automatic ON refunds (payment_id) WHERE source = 'automatic';
-- Refunds still to send to Xendit (a request that died, a released lease): the job's scan.
CREATE INDEX refunds_unsent ON refunds (claimed_at)
  WHERE status = 'pending' AND xendit_refund_id IS NULL;
-- The guarantee's scan: failed prints of sessions, by when they failed.
CREATE INDEX photos_failed_session ON photos (updated_at, session_id)
  WHERE print_status = 'failed' AND session_id IS NOT NULL;
