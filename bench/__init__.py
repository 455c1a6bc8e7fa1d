"""Fleetwatch benchmark harnesses (run the scripts directly, e.g. ``python bench/glances_api.py``).

Shared helpers:

* :mod:`bench._procs` - spawn / wait-ready / stop servers, RSS and CPU-seconds from /proc.
* :mod:`bench._wrk` - run ``wrk`` and parse its output into a dataclass.
* :mod:`bench._report` - medians, ratios, Markdown formatting, JSON results.
"""
