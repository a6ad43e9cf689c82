-- Dynamic QRIS payments (issue #8). method: how the guest pays, 'invoice' (a Xendit
-- Invoice, the hosted page) or 'qris' (a Xendit QR code shown on the booth's screen);
-- rows before this migration are invoices. qr_string: the QRIS payload the booth renders
-- (xendit_payment_id then holds the QR code's id, `qr_...`).
ALTER TABLE payments ADD COLUMN method TEXT NOT NULL DEFAULT 'invoice' CHECK (method IN ('invoice', 'qris'));
ALTER TABLE payments ADD COLUMN qr_string TEXT;
