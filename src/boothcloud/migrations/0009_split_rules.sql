-- xenPlatform split rules and venue shares (issue #8, items 3 and 5).
--
-- venues: a cafe or mall hosting a customer's booth; a share (basis points of each
-- payment, or a flat rupiah amount; exactly one) goes to the venue's own Xendit
-- sub-account. A device (license activation) is placed at one venue at a time. A venue
-- is never edited: a new share is a new venue (the money of past payments stays explained).
CREATE TABLE venues (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  name TEXT NOT NULL,
  xendit_sub_account_id TEXT NOT NULL,
  share_basis_points INTEGER CHECK (share_basis_points BETWEEN 1 AND 10000),
  share_amount INTEGER CHECK (share_amount >= 1),
  created_at DATETIME NOT NULL DEFAULT (datetime('now')),
  CHECK ((share_basis_points IS NULL) <> (share_amount IS NULL))
);
CREATE INDEX venues_customer ON venues (customer_id, created_at, id);
ALTER TABLE license_activations ADD COLUMN venue_id TEXT REFERENCES venues(id);

-- Split rules as created at Xendit (which can neither edit nor delete one): one row per
-- distinct set of routes (rule_hash, the SHA-256 of their canonical JSON), numbered per
-- scope (tier, and venue) in creation order. claimed_at: the lease of the one request
-- creating it at Xendit; xendit_split_rule_id (`splitru_...`) once Xendit answered.
CREATE TABLE xendit_split_rules (
  id TEXT PRIMARY KEY,
  rule_hash TEXT NOT NULL,
  scope TEXT NOT NULL,
  version INTEGER NOT NULL,
  routes TEXT NOT NULL,
  xendit_split_rule_id TEXT,
  claimed_at DATETIME,
  created_at DATETIME NOT NULL DEFAULT (datetime('now')),
  CONSTRAINT xendit_split_rules_hash UNIQUE (rule_hash)
);
CREATE UNIQUE INDEX xendit_split_rules_xendit_id ON xendit_split_rules (xendit_split_rule_id)
  WHERE xendit_split_rule_id IS NOT NULL;

-- The parts of each payment, fixed at creation: platform_fee (existing) and venue_amount;
-- the owner's part is the rest, amount - platform_fee - venue_amount, by definition (so
-- the three can never disagree); rows before this migration have no venue part.
ALTER TABLE payments ADD COLUMN venue_id TEXT REFERENCES venues(id);
ALTER TABLE payments ADD COLUMN venue_amount INTEGER NOT NULL DEFAULT 0 CHECK (venue_amount >= 0);
ALTER TABLE payments ADD COLUMN split_rule_id TEXT REFERENCES xendit_split_rules(id);
