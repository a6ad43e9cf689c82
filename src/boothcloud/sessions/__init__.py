"""Guest sessions: one visit at one booth (payment, captures, prints) and its gallery.

The booth opens a session with its device activation; photos and payments name it; the
guest opens the gallery at `/s/{share_code}` from a QR code. Galleries expire per tier and
a job purges their objects, keeping the rows for accounting. See docs/sessions.md.
"""
