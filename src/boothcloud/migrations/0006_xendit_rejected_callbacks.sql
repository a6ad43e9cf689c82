-- Xendit callbacks that carried a valid x-callback-token but a body this service refuses
-- (malformed JSON, numbers outside SQLite's INTEGER or not whole rupiah, text UTF-8 cannot
-- encode, over-long fields). Kept for the operator to look at; the callback is answered
-- 4xx so Xendit marks it failed and retries it (docs/payments.md). Only a caller holding
-- the callback token can add a row, and a payload is at most 64 KiB.
CREATE TABLE xendit_rejected_callbacks (
  id TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  payload TEXT NOT NULL,
  received_at DATETIME NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX xendit_rejected_callbacks_received ON xendit_rejected_callbacks (received_at);
