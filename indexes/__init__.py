"""Retrieval backends behind small interfaces (no torch here)."""
