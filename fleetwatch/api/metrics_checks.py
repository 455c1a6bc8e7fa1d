"""Passive checks and open events as metric families for ``/metrics``.

Hosts (``fleetwatch_host_*{host}``, state 0 UP, 1 DOWN, 2 UNREACHABLE) and services
(``fleetwatch_service_*{host,service}``, state 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) apart, as
their states mean different things. A never-checked (PENDING) object has no state sample: it is
neither up nor down yet; ``fleetwatch_*_checked`` says which are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from fleetwatch.api.metrics_systems import Families
from fleetwatch.store import EventRecord
from fleetwatch.store.checks import CheckObject

__all__ = ["check_families", "event_families"]


def check_families(out: Families, objects: Iterable[CheckObject]) -> None:
    for obj in objects:
        labels: tuple[str, ...]
        values: tuple[str, ...]
        if obj.is_host:
            kind, labels, values = "host", ("host",), (obj.host_name,)
        else:
            kind, labels = "service", ("host", "service")
            values = (obj.host_name, obj.service_description)
        prefix = f"fleetwatch_{kind}"
        what = "host (0 UP, 1 DOWN, 2 UNREACHABLE)" if obj.is_host else (
            "service (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)")  # fmt: skip
        out.gauge(f"{prefix}_checked", f"1 once a result was received for the {kind}.", labels,
                  values, 1.0 if obj.has_been_checked else 0.0)  # fmt: skip
        if obj.has_been_checked:
            out.gauge(f"{prefix}_state", f"Current state of the {what}.", labels, values,
                      float(obj.state))  # fmt: skip
            out.gauge(f"{prefix}_state_hard", f"1 when the {kind}'s state is HARD, 0 when SOFT.",
                      labels, values, 1.0 if obj.state_type == "HARD" else 0.0)  # fmt: skip
        out.gauge(f"{prefix}_last_result_timestamp_seconds",
                  f"When the {kind}'s last result arrived (Unix time).", labels, values,
                  obj.last_check)  # fmt: skip
        out.gauge(f"{prefix}_acknowledged", f"1 while the {kind}'s problem is acknowledged.",
                  labels, values, 1.0 if obj.acknowledged else 0.0)  # fmt: skip
        out.gauge(f"{prefix}_in_downtime", f"1 while the {kind} is in scheduled downtime.",
                  labels, values, 1.0 if obj.downtime_depth > 0 else 0.0)  # fmt: skip


def event_families(out: Families, events: Iterable[EventRecord], names: Mapping[int, str]) -> None:
    """Open events counted by system and severity (the event's state: WARNING, CRITICAL...)."""
    counts = Counter((names.get(e.system_id, str(e.system_id)), e.state) for e in events)
    for (system, severity), count in sorted(counts.items()):
        out.gauge("fleetwatch_events_open", "Events still open, by system and severity.",
                  ("system", "severity"), (system, severity), float(count))  # fmt: skip
