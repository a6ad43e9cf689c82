"""Point-in-time recovery: Litestream replicating the embedded SQLite file (docs/backups.md)."""
