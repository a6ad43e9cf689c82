-- RFC-007 schema, column for column. Never edit: later changes are new migrations.
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
);

CREATE TABLE payments (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  xendit_payment_id TEXT,
  amount INTEGER NOT NULL,
  platform_fee INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  paid_at DATETIME,
  created_at DATETIME NOT NULL DEFAULT (datetime('now')),
  FOREIGN KEY (customer_id) REFERENCES customers(id)
);

CREATE TABLE photos (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  r2_key TEXT NOT NULL,
  print_status TEXT NOT NULL DEFAULT 'pending',
  printer_id TEXT,
  created_at DATETIME NOT NULL DEFAULT (datetime('now')),
  FOREIGN KEY (customer_id) REFERENCES customers(id)
);

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
