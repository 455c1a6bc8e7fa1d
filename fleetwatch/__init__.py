"""Fleetwatch: a self-hosted monitoring hub with a Glances-compatible REST API."""

__version__ = "0.1.0"
