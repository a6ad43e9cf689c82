-- The daily payment summary (GET /api/payments/summary, the console's chart) reads every
-- payment of the range: this index covers it (created_at range, then status, amount and
-- fee from the index alone), so it reads no table rows. Issue #10.
CREATE INDEX payments_summary ON payments (created_at, status, amount, platform_fee);
