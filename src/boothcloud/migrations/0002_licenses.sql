-- Licenses: status and expiry on the customer, case-insensitive unique email,
-- device activations, and indexes for the customer list filters.
ALTER TABLE customers ADD COLUMN license_status TEXT NOT NULL DEFAULT 'active'
  CHECK (license_status IN ('active', 'suspended'));
ALTER TABLE customers ADD COLUMN license_expires_at DATETIME;

CREATE UNIQUE INDEX customers_email_lower ON customers (lower(email));
CREATE INDEX customers_license_type ON customers (license_type, created_at, id);
CREATE INDEX customers_created ON customers (created_at, id);

CREATE TABLE license_activations (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  fingerprint TEXT NOT NULL,
  name TEXT,
  created_at DATETIME NOT NULL DEFAULT (datetime('now')),
  last_validated_at DATETIME,
  CONSTRAINT license_activations_fingerprint UNIQUE (customer_id, fingerprint)
);
CREATE INDEX license_activations_customer ON license_activations (customer_id, created_at);
