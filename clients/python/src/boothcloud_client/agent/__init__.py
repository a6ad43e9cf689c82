"""boothcloud-agent: the booth PC's offline-first service (outbox, heartbeat, printing).

Needs the `agent` extra (`pip install 'boothcloud-client[agent]'`, for the certificate's
Ed25519 check) and CUPS's command-line tools for printing. See README.md, "Booth agent".
"""
