"""What a notification is about: an outbox row read as a ``NotifyEvent``.

Every event the hub makes is an ``events`` row, and every change of one that matters (it
opened, changed state, ended) is an outbox row (migration 0007). ``NotifyEvent`` names what
rules match on (``kind``, ``severity``, the system, host and service) and the fields templates
may use (``FIELDS``, documented in the README).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fleetwatch.store.notify import OutboxRecord

__all__ = ["FIELDS", "KINDS", "SEVERITIES", "NotifyEvent", "read_event"]

KINDS = ("threshold", "stale", "alert", "check", "freshness", "acknowledgement", "downtime")
SEVERITIES = ("WARNING", "CRITICAL", "recovery", "info")
_CRITICAL_STATES = {"CRITICAL", "DOWN", "UNREACHABLE"}
_PROBLEM_STATES = {"WARNING", "UNKNOWN", *_CRITICAL_STATES}
_STATE_PREFIX = re.compile(r"^(OK|WARNING|CRITICAL|UNKNOWN|UP|DOWN|UNREACHABLE)\s*[:-]\s*")

# The template fields, with what each holds (the README lists them from here).
FIELDS: dict[str, str] = {
    "kind": "threshold, stale, alert, check, freshness, acknowledgement or downtime",
    "type": "the event type: CPU_TOTAL, STALE, ALERT_<id>, CHECK_HARD_STATE, ...",
    "severity": "WARNING, CRITICAL, recovery or info",
    "phase": "problem, escalation, repeat, recovery or info",
    "state": "the state now: WARNING, CRITICAL, OK, DOWN, ...",
    "previous_state": "the state before, where known",
    "system": "the system's name",
    "host": "the host of a check event",
    "service": "the service of a check event",
    "object": "what the event is about: web1, web1 / Nightly backup, or the system",
    "summary": "what is wrong, in a few words",
    "description": "the event's description as stored",
    "value": "the event's largest value (threshold events)",
    "began_at": "when the problem began (epoch seconds)",
    "ended_at": "when it ended (epoch seconds), or null",
    "duration_seconds": "how long it lasted, or has lasted so far",
    "event_id": "the event's id in the store",
    "url": "a link to the object (server.public_url set), else empty",
    "data": "the event's own details (check output, alert source, ...)",
}


@dataclass(frozen=True, slots=True)
class NotifyEvent:
    outbox_id: int
    event_id: int
    transition: str  # open, change, end, instant, or ack (the event was acknowledged)
    kind: str
    type: str
    state: str
    previous_state: str | None
    system: str
    host: str
    service: str
    summary: str
    description: str
    value: float
    began_at: float
    ended_at: float | None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def object(self) -> str:
        if self.host:
            return f"{self.host} / {self.service}" if self.service else self.host
        return self.system

    @property
    def subject(self) -> str:
        """The problem this event belongs to: one open incident per subject."""
        if self.kind == "check":
            return f"object:{self.host};{self.service}"
        return f"event:{self.event_id}"

    @property
    def is_problem(self) -> bool:
        return self.state in _PROBLEM_STATES

    @property
    def severity(self) -> str:
        """Of the state now: recovery for OK, UP, ended and information."""
        if self.kind in ("acknowledgement", "downtime", "freshness"):
            return "info"
        if self.transition == "end" or not self.is_problem:
            return "recovery"
        return "CRITICAL" if self.state in _CRITICAL_STATES else "WARNING"


def kind_of(event_type: str, system_is_checks: bool) -> str:
    if event_type == "STALE":
        return "stale"
    if event_type.startswith("ALERT_"):
        return "alert"
    if system_is_checks:
        return {
            "CHECK_HARD_STATE": "check",
            "CHECK_STALE": "freshness",
            "ACKNOWLEDGEMENT": "acknowledgement",
            "ACKNOWLEDGEMENT_REMOVED": "acknowledgement",
            "DOWNTIME_START": "downtime",
            "DOWNTIME_END": "downtime",
        }.get(event_type, "threshold")
    return "threshold"


def read_event(row: OutboxRecord, system: str, *, checks_system: bool) -> NotifyEvent:
    """``row`` of system ``system`` (``checks_system``: the hub's own check events)."""
    kind = kind_of(row.type, checks_system)
    data = row.data if isinstance(row.data, dict) else {}
    host = str(data.get("host") or "") if checks_system else ""
    service = str(data.get("service") or "") if checks_system else ""
    state = row.state.upper()
    previous = row.previous_state
    if checks_system and data.get("old_state"):
        previous = str(data["old_state"])
    ended = row.end_at if row.end_at >= 0 and row.transition in ("end", "instant") else None
    return NotifyEvent(
        outbox_id=row.id, event_id=row.event_id, transition=row.transition, kind=kind,
        type=row.type, state="INFORMATION" if state == "INFORMATION" else state,
        previous_state=previous, system=system, host=host, service=service,
        summary=_summary(kind, row, data), description=row.description,
        value=row.value_max, began_at=row.begin_at,
        ended_at=None if kind == "check" else ended, data=data,
    )  # fmt: skip


def _summary(kind: str, row: OutboxRecord, data: dict[str, Any]) -> str:
    if kind in ("check", "freshness"):
        return _STATE_PREFIX.sub("", str(data.get("output") or row.description)).strip()
    if kind == "acknowledgement":
        if row.type == "ACKNOWLEDGEMENT_REMOVED":
            return "acknowledgement removed"
        return f"acknowledged by {data.get('author', '?')}: {data.get('comment', '')}".strip()
    if kind == "downtime":
        verb = "started" if row.type == "DOWNTIME_START" else "ended"
        comment = data.get("comment")
        return f"downtime {verb}" + (f": {comment}" if comment else "")
    if kind == "threshold":
        return f"{row.description} at {row.value_max:.1f}"
    return row.description
