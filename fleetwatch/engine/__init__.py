"""Turning statistics into events: thresholds (Glances alert semantics), and later freshness."""
