"""The operator console and the booth owner view at `/console` (server-rendered HTML)."""
