"""Refunds of completed payments and the paid-but-not-printed guarantee (issue #8)."""
