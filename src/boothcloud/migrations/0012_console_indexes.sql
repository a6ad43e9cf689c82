-- Indexes for the lists the operator reads across every customer (issue #10: the console,
-- and the same API routes).
-- The daily payment summary (GET /api/payments/summary, the console's chart) reads every
-- payment of its range: this index covers it (the created_at range, then status, amount
-- and fee from the index alone), so it reads no table rows.
CREATE INDEX payments_summary ON payments (created_at, status, amount, platform_fee);
-- Photos by print status, newest first, for all customers (GET /api/photos?print_status=,
-- the print queues page): without it a status that is rare among the newest photos (the
-- failed prints behind a day of pending queues) is found by scanning the whole table.
CREATE INDEX photos_status ON photos (print_status, created_at, id);
